"""The YAML recipient directory: the example loads, lookups follow the Directory port, errors carry file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.base_roles import BASE_ROLES
from engine.credit_code import check_character, credit_code_problem
from engine.ports import Directory
from notifiers.directory import BASE_ROLES as DIRECTORY_BASE_ROLES
from notifiers.directory import YamlDirectory
from notifiers.errors import DirectoryError

EXAMPLE = Path(__file__).resolve().parents[2] / "notifiers" / "example_directory.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "directory.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_directory_loads_and_serves_the_port() -> None:
    """The shipped example loads; people are found by base role and department; names by credit code."""
    directory: Directory = YamlDirectory(EXAMPLE)
    supervisors = {p.id for p in directory.people("data_supervisor", None)}
    auditors = directory.people("data_auditor", "11450200007565127X")
    assert supervisors == {"gx-dsj-supervisor", "lz-dsj-supervisor"}
    assert [p.name for p in auditors] == ["陆振华"]
    assert directory.department_name("11450200007565127X") == "柳州市公安局"
    assert directory.department_name("000") == "000"
    assert directory.people("no_such_role", None) == []


def test_example_department_codes_have_valid_check_characters() -> None:
    """Every department of the example carries a GB 32100 code whose check character is right."""
    directory = YamlDirectory(EXAMPLE)
    assert len(directory.departments) >= 5
    assert all(credit_code_problem(code) is None for code in directory.departments)


def test_credit_code_check_character_on_a_published_code() -> None:
    """The check character matches a published code (91350100M000100Y43) and catches a wrong one."""
    assert check_character("91350100M000100Y4") == "3"
    assert credit_code_problem("91350100M000100Y44") is not None
    assert credit_code_problem("91350100M000100Y4") is not None


def test_every_problem_is_reported_with_file_and_line(tmp_path: Path) -> None:
    """All problems of a file come at once, each as file:line: path: message, sorted by line."""
    path = write(tmp_path, """\
channels:
  file: {type: file, dir: out}
  mail: {type: smtp, host: h, from: a@b.cn, prot: 25}
departments:
  - {code: 11450200007565127A, name: 柳州市公安局}
  - {code: 11450200MB0K273590, name: 柳州市市场监督管理局}
people:
  - id: p1
    name: 张三
    department: 11450200MB0K273590
    roles: [data_admn]
    contacts: {fax: "123"}
  - id: p2
    name: 李四
    department: 99
    roles: [data_admin]
peeple: []
""")
    with pytest.raises(DirectoryError) as caught:
        YamlDirectory(path)
    problems = caught.value.problems
    assert problems == (
        f"{path}:3: channels.mail.prot: unknown setting; known: from, host, password, password_env, port, ssl, "
        "starttls, user, user_env",
        f"{path}:5: departments[0].code: check character of 11450200007565127A is wrong: expected 'X', found 'A'",
        f"{path}:11: people[0].roles[0]: unknown base role 'data_admn' (did you mean 'data_admin'?)",
        f"{path}:12: people[0].contacts.fax: no channel 'fax' under `channels`",
        f"{path}:15: people[1].department: unknown department 99: list it under `departments`",
        f"{path}:17: peeple: unknown section (did you mean 'people'?); known: departments, people, channels",
    )


def test_bad_yaml_and_duplicates(tmp_path: Path) -> None:
    """Broken YAML is reported with its line; duplicate keys are refused."""
    broken = write(tmp_path, "people:\n  - id: [unclosed\n")
    with pytest.raises(DirectoryError) as syntax:
        YamlDirectory(broken)
    dup = tmp_path / "dup.yaml"
    dup.write_text("channels: {}\ndepartments: []\nchannels: {}\n", encoding="utf-8")
    with pytest.raises(DirectoryError) as duplicate:
        YamlDirectory(dup)
    assert syntax.value.problems[0].startswith(f"{broken}:3: YAML syntax")
    assert duplicate.value.problems == (f"{dup}:3: channels: duplicate key 'channels' (first at line 1)",)


def test_missing_file_is_a_directory_error(tmp_path: Path) -> None:
    """A missing file is a DirectoryError naming it."""
    with pytest.raises(DirectoryError) as caught:
        YamlDirectory(tmp_path / "nope.yaml")
    assert "nope.yaml:1: cannot read" in str(caught.value)


def test_scope_limits_what_a_supervisor_sees(tmp_path: Path) -> None:
    """A person with `scope:` supervises only those departments; without it, everything."""
    path = write(tmp_path, """\
channels: {file: {type: file, dir: out}}
departments:
  - {code: 11450200007565127X, name: 柳州市公安局}
  - {code: 11450200MB0K273590, name: 柳州市市场监督管理局}
people:
  - {id: s1, name: 甲, roles: [data_supervisor], contacts: {file: a@x.cn}, scope: [11450200007565127X]}
  - {id: s2, name: 乙, roles: [data_supervisor], contacts: {file: b@x.cn}}
""")
    directory = YamlDirectory(path)
    s1, s2 = directory.person("s1"), directory.person("s2")
    assert s1 is not None and s2 is not None
    assert directory.in_scope(s1, {"department": "11450200007565127X"})
    assert not directory.in_scope(s1, {"department": "11450200MB0K273590"})
    assert directory.in_scope(s2, {"department": "11450200MB0K273590"})


def test_example_directory_tags_each_jurisdictions_bureau_and_centre() -> None:
    """`org:` tags name one department per organisation: Liuzhou's bureau and centre, Guangxi's centre; an
    untagged organisation answers None."""
    directory = YamlDirectory(EXAMPLE)
    lz_bureau = directory.organisation_department("lz", "bureau") or ""
    lz_center = directory.organisation_department("lz", "center") or ""
    gx_center = directory.organisation_department("gx", "center") or ""
    assert directory.department_name(lz_bureau) == "柳州市大数据发展局"
    assert directory.department_name(lz_center) == "柳州市信息化建设管理中心"
    assert directory.department_name(gx_center) == "广西壮族自治区信息中心"
    assert directory.organisation_department("cq", "bureau") is None
    gx_admins = {p.id for p in directory.people("data_admin", None) if p.id.startswith("gx-")}
    assert gx_admins == {"gx-gat-admin", "gx-rst-admin"}


def test_bad_and_repeated_org_tags_are_reported(tmp_path: Path) -> None:
    """A tag not of the form <jurisdiction>.bureau|center, and a second department with the same tag, are listed."""
    text = (
        "departments:\n"
        "  - {code: 11450000MB1A832730, name: 甲, org: gx.bureau}\n"
        "  - {code: 11450200MB1D56243D, name: 乙, org: gx.bureau}\n"
        "  - {code: 12450200MB0G83912Y, name: 丙, org: liuzhou}\n"
        "people: []\n"
        "channels: {}\n"
    )
    with pytest.raises(DirectoryError) as err:
        YamlDirectory(write(tmp_path, text))
    message = str(err.value)
    assert "gx.bureau already tags department 11450000MB1A832730" in message
    assert "expected a tag such as gx.bureau or lz.center, got 'liuzhou'" in message


def test_people_may_hold_every_base_role_of_the_one_list(tmp_path: Path) -> None:
    """The directory checks roles against engine/base_roles.py itself, so a role added there is accepted here."""
    path = tmp_path / "directory.yaml"
    roles = ", ".join(sorted(BASE_ROLES))
    path.write_text(f"""\
channels: {{file: {{type: file, dir: out}}}}
departments: [{{code: 11450200007565127X, name: 柳州市公安局}}]
people:
  - {{id: all-roles, name: 全员, department: 11450200007565127X, roles: [{roles}], contacts: {{file: a@b.cn}}}}
""", encoding="utf-8")
    person = YamlDirectory(path).person("all-roles")
    assert DIRECTORY_BASE_ROLES is BASE_ROLES
    assert person is not None and person.roles == BASE_ROLES
