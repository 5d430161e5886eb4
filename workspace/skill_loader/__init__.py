"""Skills: directories of instructions (and optionally a tool) the agent advertises and uses."""

from __future__ import annotations

from skill_loader.loader import Skill, SkillError, load_skill, load_skills

__all__ = ["Skill", "SkillError", "load_skill", "load_skills"]
