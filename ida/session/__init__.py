"""Decomposition sessions at the terminal: `store` keeps them (SQLite), `run` drives one."""

from ida.session.run import OPEN_MARK, POLICY_NAME, Session, model_suggester, policy_suggester
from ida.session.store import (
    AUTO, DEFAULT_BUDGET, DEFAULT_MAX_DEPTH, MODEL, PERSON, SESSIONS_ENV, Recorded, SessionError, SessionInfo,
    SessionStore, sessions_path,
)

__all__ = [
    "AUTO", "DEFAULT_BUDGET", "DEFAULT_MAX_DEPTH", "MODEL", "OPEN_MARK", "PERSON", "POLICY_NAME", "SESSIONS_ENV",
    "Recorded", "Session", "SessionError", "SessionInfo", "SessionStore", "model_suggester", "policy_suggester",
    "sessions_path",
]
