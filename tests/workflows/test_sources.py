"""Each jurisdiction's procedure cites its own regulations: a Guangxi file no Liuzhou document, and back."""

from __future__ import annotations

import pytest

from engine.definitions import DefinitionSet

# the files this check covers; each names the jurisdiction whose documents it may not cite
FOREIGN = {"gx": "柳州", "lz": "广西"}
CHECKED = ["gx.cloud_resource", "gx.cloud_resource_2019", "gx.data_request", "gx.emergency_drill",
           "lz.cloud_resource", "lz.data_request", "lz.dispatch_data_request", "lz.code_set_registration",
           "lz.emergency_drill"]


@pytest.mark.parametrize("wf", CHECKED)
def test_cites_no_document_of_the_other_jurisdiction(definitions: DefinitionSet, wf: str) -> None:
    """A Guangxi rule is not grounded in Liuzhou's documents (nor the reverse); the indicators are Guangxi's own."""
    spec = definitions.get(wf).spec
    foreign = FOREIGN[spec.jurisdiction]
    assert [s.document for s in spec.sources if foreign in s.document] == []
