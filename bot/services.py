"""What every conversation needs: the database sessions, the catalog and the performance parameters
(each loaded once per process), the spec extractor, and opening or finding a thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from kb import threads as kb_threads
from planner.catalog import Catalog
from planner.spec import DeploymentSpec
from planner.thread import ThreadState
from planner.types import DeploymentOutcome

logger = logging.getLogger(__name__)

Extractor = Callable[[str, list[str], Catalog], tuple[DeploymentSpec, list[str]]]  # → (spec, notes)


@dataclass
class Services:
    """What every conversation needs: the database, the catalog and the performance parameters."""

    sessions: sessionmaker[Session]
    extractor: Extractor | None = None  # LLM extraction (Ollama); rule-based when None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def close(self) -> None:
        """Dispose of the engine behind the sessions (its pooled connections close)."""
        bind: Any = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()

    def catalog(self) -> Catalog:
        with self._lock:
            if "catalog" not in self._cache:
                from kb.repository import load_catalog

                with self.sessions() as session:
                    self._cache["catalog"] = load_catalog(session=session)
            return self._cache["catalog"]  # type: ignore[no-any-return]

    def perf_params(self) -> Any:
        with self._lock:
            if "params" not in self._cache:
                self._cache["params"] = _load_perf_params(self.sessions)
            return self._cache["params"]

    def outcomes(self) -> list[DeploymentOutcome]:
        """Observed deployments (they correct predictions); read per plan, since digests add them."""
        from kb.repository import list_outcomes

        with self.sessions() as session:
            return list_outcomes(session=session)

    def extract(
        self, text: str, history: list[str], *, extractor: Extractor | None = None
    ) -> tuple[DeploymentSpec, list[str]]:
        """The spec of a conversation: the LLM extractor when given, else the rule-based one."""
        extractor = extractor or self.extractor
        if extractor is not None:
            return extractor(text, history, self.catalog())
        from planner.intent import extract

        return extract(text, history=history, catalog=self.catalog()), []


def _load_perf_params(sessions: sessionmaker[Session]) -> Any:
    """The fitted performance parameters (kb.calibration), the defaults when none were fitted."""
    del sessions  # the fitted parameters are a file today; the signature stays when they move into the kb
    from kb.calibration import CALIBRATION_PATH, load_params
    from planner.perf_params import default_params

    try:
        return load_params()
    except (OSError, ValueError, TypeError, KeyError):  # a broken calibration file must not stop planning
        logger.exception("cannot read %s; planning with the default performance parameters", CALIBRATION_PATH)
        return default_params()


def open_thread(
    services: Services, *, team_id: str, channel_id: str, thread_ts: str, user_id: str
) -> ThreadState:
    """Create (or find) the thread a conversation lives in."""
    with services.sessions.begin() as session:
        return kb_threads.get_or_create_thread(
            session=session, team_id=team_id, channel_id=channel_id, thread_ts=thread_ts, user_id=user_id
        )


def find_thread(services: Services, thread_id: str) -> ThreadState | None:
    with services.sessions() as session:
        return kb_threads.get_thread(session=session, thread_id=thread_id)


def open_services(database_url: str | None) -> Services:
    """Open the knowledge base (upgrading the schema and loading the seed when needed) for conversations.

    Raises:
        DatabaseUnavailableError, SeedDataError: see kb.schema.ensure_ready.
    """
    from kb.schema import ensure_ready
    from kb.session import default_database_url, make_engine, make_session_factory

    engine = make_engine(database_url or default_database_url())
    try:
        ensure_ready(engine)
    except Exception:
        engine.dispose()
        raise
    return Services(sessions=make_session_factory(engine))


_opened: dict[str | None, Services] = {}
_opened_lock = threading.Lock()


def services_for(database_url: str | None) -> Services:
    """The services of a database, opened once per process (workers run many jobs on one engine)."""
    with _opened_lock:
        if database_url not in _opened:
            _opened[database_url] = open_services(database_url)
        return _opened[database_url]


def forget() -> None:
    """Dispose of the engines `services_for` opened (tests; before a database is dropped)."""
    with _opened_lock:
        for services in _opened.values():
            services.close()
        _opened.clear()


def llm_extractor(ollama_host: str | None) -> Extractor | None:
    """Extraction through Ollama that falls back to the rules (saying why), or None without a host."""
    if not ollama_host:
        return None
    from planner.llm_intent import extract_with_llm
    from workers.llm import OllamaBackend

    backend = OllamaBackend(ollama_host)

    def extract(text: str, history: list[str], catalog: Catalog) -> tuple[DeploymentSpec, list[str]]:
        found = extract_with_llm(text, history=history, catalog=catalog, backend=backend)
        why = (
            [f"Read by the rule-based extractor ({found.fallback_reason})."] if found.fallback_reason else []
        )
        return found.spec, [*why, *found.notes]

    return extract
