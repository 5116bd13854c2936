"""Who does things to cases: staff members by role, the system, the citizen. Every context's views use these."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a staff member, the system, or the citizen."""

    kind: str
    name: str
    id: int | None = None
    role: Role | None = None
    department: str | None = None

    @property
    def is_department(self) -> bool:
        return self.role is Role.DEPARTMENT


SYSTEM = Actor(kind="system", name="system")
CITIZEN = Actor(kind="citizen", name="citizen")
