"""The base roles an actor can hold: the one list the validator checks `base:` against and the recipient
directory checks people's roles against. A deployment that needs another adds it here, with its meaning.
"""

from __future__ import annotations

from types import MappingProxyType

#: Base role -> what its holder does (PROCEDURES.md "Roles"; Guangxi and Liuzhou art. 39 for the first six).
BASE_ROLE_MEANINGS = MappingProxyType({
    "data_admin": "数据管理员: a department's data administrator; files and receives requests, raises and answers "
                  "objections",
    "data_auditor": "数据审核员: a department's data auditor; approves or refuses requests for the providing "
                    "department",
    "bureau_reviewer": "大数据发展局: the big-data bureau; normative review, approvals of cloud resources and "
                       "offlining",
    "center_operator": "信息中心 / 信息化建设管理中心: the information centre; evaluates and delivers cloud resources, "
                       "accounts, platform docking",
    "data_supervisor": "数据监督员: at the bureau; supervises that admins and auditors act in time, the escalation "
                       "target",
    "list_compiler": "清单编制员: compiles a department's catalogue and code-set entries",
    "section_auditor": "科室审核员: reviews a catalogue entry at section level",
    "department_auditor": "部门审核员: reviews a catalogue entry for the whole department",
    "authority_auditor": "主管部门审核员: the competent authority's final review of catalogue and code-set entries",
    "department_leader": "责任领导: the leader who signs off a department's cloud-resource or migration application",
})

#: The base roles, as a set for membership tests.
BASE_ROLES: frozenset[str] = frozenset(BASE_ROLE_MEANINGS)

__all__ = ["BASE_ROLES", "BASE_ROLE_MEANINGS"]
