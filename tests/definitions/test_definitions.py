"""DefinitionSet: loading files and folders, versions by content hash, all problems of all files at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.definitions import CompiledWorkflow, DefinitionSet
from engine.errors import DefinitionError, UnknownWorkflow
from tests.definitions.conftest import GX_REQUEST, VALID


def test_load_a_folder_and_get_by_id() -> None:
    """A folder is searched recursively; get answers the compiled workflow of that id."""
    defs = DefinitionSet.load([VALID])
    c = defs.get("gx.data_request")
    assert isinstance(c, CompiledWorkflow) and c.version == c.spec.content_hash
    assert "gx.data_request" in defs.ids() and c in list(defs)


def test_unknown_id_names_the_loaded_ones() -> None:
    """get of an unknown id raises UnknownWorkflow listing what is loaded."""
    defs = DefinitionSet.load([GX_REQUEST])
    with pytest.raises(UnknownWorkflow) as err:
        defs.get("gx.nothing")
    assert err.value.known == ("gx.data_request",)


def test_a_changed_file_is_a_new_version_and_old_ones_stay(tmp_path: Path) -> None:
    """Adding a changed definition makes it the latest; the earlier version stays reachable by hash."""
    from engine.loader import load_text

    defs = DefinitionSet.load([GX_REQUEST])
    old = defs.get("gx.data_request")
    text = GX_REQUEST.read_text(encoding="utf-8").replace("due: 5 WD", "due: 4 WD")
    new = defs.add(load_text(text, "changed.yaml"))
    assert defs.get("gx.data_request") is new and new.version != old.version
    assert defs.get_version("gx.data_request", old.version) is old
    assert defs.get_version("gx.data_request", old.spec.version) is old
    assert defs.versions("gx.data_request") == (old.version, new.version)
    with pytest.raises(UnknownWorkflow):
        defs.get_version("gx.data_request", "0" * 64)


def test_all_problems_of_all_files_are_reported(tmp_path: Path) -> None:
    """Two broken files: one DefinitionError carrying the problems of both."""
    text = GX_REQUEST.read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(text.replace("to: provider_approval", "to: provider_aproval"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(text.replace("id: gx.data_request", "id: gx.other")
                                     .replace("assignee: bureau.reviewer", "assignee: bureau.reveiwer", 1),
                                     encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        DefinitionSet.load([tmp_path])
    files = {Path(p.file).name for p in err.value.problems}
    assert files == {"a.yaml", "b.yaml"}


def test_the_same_id_in_two_files_is_a_problem(tmp_path: Path) -> None:
    """Two files may not define the same workflow id."""
    shutil.copy(GX_REQUEST, tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text(GX_REQUEST.read_text(encoding="utf-8") + "\n# a copy\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        DefinitionSet.load([tmp_path])
    assert "also defined in" in err.value.problems[0].message


def test_a_missing_path_is_a_problem(tmp_path: Path) -> None:
    """Loading from a path that does not exist is a DefinitionError, not an empty set."""
    with pytest.raises(DefinitionError):
        DefinitionSet.load([tmp_path / "nope"])


def test_from_texts_matches_the_files() -> None:
    """Definitions read back from stored YAML text have the versions the files had."""
    defs = DefinitionSet.from_texts([(str(GX_REQUEST), GX_REQUEST.read_text(encoding="utf-8"))])
    assert defs.get("gx.data_request").version == DefinitionSet.load([GX_REQUEST]).get("gx.data_request").version
