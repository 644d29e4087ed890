"""Diagrams of a workflow definition: Mermaid state diagrams and BPMN 2.0 with layout."""

from __future__ import annotations

from engine.diagrams.bpmn import to_bpmn
from engine.diagrams.mermaid import to_mermaid

__all__ = ["to_bpmn", "to_mermaid"]
