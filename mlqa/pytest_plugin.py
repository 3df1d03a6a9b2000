"""The mlqa pytest plugin (entry point `pytest11: mlqa`).

Only pytest's wiring: options, fixtures, the `mlqa` marker, collection of the config's
checks as items, translating mlqa's config errors into `pytest.exit` (code 2), and one
session-finish step. Every check runs, is recorded and is decided by `mlqa.Session` — the
same code path as `mlqa gate`. Importing this module imports nothing heavy, so projects
that never pass `--mlqa-config` pay (almost) nothing for having mlqa installed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

_WIRING = pytest.StashKey["_Wiring"]()


class _Wiring:
    """What pytest needs to reach the session: the config path and stage given on the
    command line, and the `mlqa.Session` (made when first needed, so projects that never
    use mlqa build none)."""

    def __init__(self, path: Path | None, stage: str | None) -> None:
        self.path = path
        self.stage = stage
        self._session: Any = None
        self.outcome: Any = None

    @property
    def session(self) -> Any:
        if self._session is None:
            from .session import Session
            self._session = Session(None)
        return self._session

    def open(self) -> None:
        from .session import Session
        self._session = _config_errors_exit(lambda: Session(self.path, self.stage))

    @property
    def used(self) -> bool:
        return self._session is not None


def _config_errors_exit(call: Any) -> Any:
    """`call()`, with mlqa's config and subject errors turned into pytest's exit 2."""
    from .errors import MlqaError
    try:
        return call()
    except MlqaError as exc:
        pytest.exit(f"mlqa: error: {exc}", returncode=2)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlqa", "mlqa quality gates")
    group.addoption("--mlqa-config", metavar="PATH", default=None,
                    help="mlqa.yaml whose checks are collected as test items")
    group.addoption("--mlqa-stage", metavar="NAME", default=None,
                    help="gate stage whose policy decides each item and the session's exit status")
    group.addoption("--mlqa-out", metavar="DIR", default=None,
                    help="where to write the mlqa reports (default mlqa-out/ when a config is given)")
    group.addoption("--mlqa-stack-topology", metavar="PATH", default=None,
                    help="topology YAML of the reference stack the mlqa_stack fixture starts")
    parser.addini("mlqa_config", "default for --mlqa-config", default="")
    parser.addini("mlqa_stack_topology", "default for --mlqa-stack-topology", default="")
    parser.addini("mlqa_stage", "default for --mlqa-stage", default="")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspec
    pluginmanager.add_hookspecs(hookspec)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mlqa: a hand-written test that feeds the mlqa gate "
                                       "(through the mlqa_record fixture)")
    path = config.getoption("mlqa_config") or config.getini("mlqa_config") or None
    stage = config.getoption("mlqa_stage") or config.getini("mlqa_stage") or None
    wiring = _Wiring(Path(path).resolve() if path else None, stage)
    config.stash[_WIRING] = wiring
    if wiring.path is None:
        if stage:
            raise pytest.UsageError("--mlqa-stage needs --mlqa-config (the mlqa.yaml that declares the stage)")
        return
    wiring.open()
    for suite in sorted({c.check_id.split(".")[0] for c in wiring.session.select()}):
        config.addinivalue_line("markers", f"{suite}: mlqa checks of the {suite} suite")
    target = str(wiring.path)
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        if target not in config.args:
            config.args.append(target)
    else:  # no paths given: the run is the config's checks
        config.args[:] = [target]


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    wiring: _Wiring | None = parent.config.stash.get(_WIRING, None)
    if wiring is not None and wiring.path is not None and file_path.resolve() == wiring.path:
        return MlqaFile.from_parent(parent, path=file_path)
    return None


class MlqaFile(pytest.File):
    """An mlqa.yaml: one item per entry of its `checks:` list."""

    def collect(self):
        for instance in self.config.stash[_WIRING].session.select():
            yield MlqaItem.from_parent(self, name=instance.key, instance=instance)


class MlqaCheckFailed(Exception):
    """Raised by an item whose check blocks the stage."""


class MlqaItem(pytest.Item):
    """One configured check. The stage's policy decides the outcome: a failed blocking
    check fails, a failed advisory (or waived) one is xfailed with its reason."""

    def __init__(self, *, instance: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.instance = instance
        self.add_marker(pytest.mark.mlqa)
        self.add_marker(getattr(pytest.mark, instance.check_id.split(".")[0]))
        self.gated = None

    def runtest(self) -> None:
        session = self.config.stash[_WIRING].session
        result = _config_errors_exit(lambda: session.run(self.instance))
        result = _printable(session, result)  # what pytest prints now: personal data redacted
        self.gated = gated = session.gate_one(result)
        if result.status == "passed":
            return
        if result.status == "skipped":
            pytest.skip(result.message)
        if not gated.blocks:
            why = "waived" if gated.waived else "advisory"
            pytest.xfail(f"{why} {result.status}: {result.message}")
        raise MlqaCheckFailed(result)

    def repr_failure(self, excinfo, style=None):  # noqa: ANN001
        if isinstance(excinfo.value, MlqaCheckFailed) and self.gated is not None:
            from .console import describe_failure
            return describe_failure(self.gated, self.config.stash[_WIRING].stage,
                                    f"{self.path}:{self.instance.line}")
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, (self.instance.line or 1) - 1, f"mlqa check {self.instance.key}"


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    wiring: _Wiring | None = session.config.stash.get(_WIRING, None)
    if wiring is None or not wiring.used or session.config.option.collectonly:
        return
    if exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.USAGE_ERROR):
        return
    mlqa_session = wiring.session
    if mlqa_session.config is None and not mlqa_session.results:
        return
    out = session.config.getoption("mlqa_out") or ("mlqa-out" if mlqa_session.config is not None else None)
    wiring.outcome = outcome = mlqa_session.finish(out)
    session.config.hook.pytest_mlqa_decision(decision=outcome.verdict, config=session.config)
    if not outcome.verdict.promoted and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    wiring: _Wiring | None = config.stash.get(_WIRING, None)
    if wiring is None or wiring.outcome is None:
        return
    from .console import plain_table, table_title
    from .reports import document
    doc = document(wiring.outcome)
    terminalreporter.write_sep("=", table_title(doc))
    for line in plain_table(doc).splitlines():
        terminalreporter.write_line(line)
    if wiring.outcome.files:
        terminalreporter.write_line("mlqa reports: " + ", ".join(str(p) for p in wiring.outcome.files.values()))


# ---------------------------------------------------------------- fixtures
def _session(request: pytest.FixtureRequest) -> Any:
    wiring: _Wiring = request.config.stash[_WIRING]
    if wiring.path is None:
        raise pytest.UsageError("this test needs an mlqa config: run pytest with "
                                "--mlqa-config mlqa.yaml (or set mlqa_config in the ini file)")
    return wiring.session


@pytest.fixture(scope="session")
def mlqa_config(request: pytest.FixtureRequest):
    """The validated `mlqa.Config` of --mlqa-config."""
    session = _session(request)
    _config_errors_exit(lambda: session.context)
    return session.config


@pytest.fixture(scope="session")
def mlqa_context(request: pytest.FixtureRequest):
    """The `mlqa.CheckContext` checks receive: call any check function with it directly."""
    session = _session(request)
    return _config_errors_exit(lambda: session.context)


def _printable(session: Any, result: Any) -> Any:
    """`result` as the item may print it before the run's reports: redacted like them."""
    from .redact import context_redactor
    personal = session.config.data.personal if session.config is not None else ()
    return context_redactor(session.context, personal=personal, results=[result]).result(result)


def _loaded(ctx, name: str):
    """The subject `name` for a hand-written test: skipped (with the reason) when the config
    does not declare it — a test of the champion has nothing to test without `baseline:` —
    and an error when it is declared but could not be loaded (fail closed)."""
    subject = ctx.subject(name)
    if subject is None and name not in ctx.subject_errors:
        pytest.skip(f"mlqa_{name}: the config declares no `{name}:` (add it to mlqa.yaml to run this test)")
    if subject is None:
        pytest.fail(f"mlqa_{name}: the config declares `{name}:` but it could not be loaded: "
                    + ctx.subject_errors[name], pytrace=False)
    if getattr(subject, "isolation", None) == "process":
        return subject  # a model in its worker: the proxy has predict / predict_proba / classes_
    return getattr(subject, "obj", subject)


@pytest.fixture(scope="session")
def mlqa_model(mlqa_context):
    """The model under test, as loaded (the object with predict / predict_proba)."""
    return _loaded(mlqa_context, "model")


@pytest.fixture(scope="session")
def mlqa_baseline(mlqa_context):
    """The current champion (`baseline:`), as loaded."""
    return _loaded(mlqa_context, "baseline")


@pytest.fixture(scope="session")
def mlqa_data(mlqa_context):
    """The data: `.train` / `.test` (`mlqa.Dataset`: .frame, .X, .y), `.label`,
    `.positive_label`, `.sensitive`."""
    from .context import DataBundle
    return DataBundle.from_context(mlqa_context)


@pytest.fixture
def mlqa_record(request: pytest.FixtureRequest):
    """`mlqa_record(result)`: add a hand-written `CheckResult` to the gate, attributed to
    this test (its `recorded_by` is the test's node id). It is gated as a result of its
    own and never stands in for a configured check, even under the same id."""
    record = request.config.stash[_WIRING].session.record
    nodeid = request.node.nodeid

    def mlqa_record(result: Any) -> Any:
        return record(result, recorded_by=nodeid)
    return mlqa_record


@pytest.fixture(scope="session")
def mlqa_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The reference stack (`mlqa.stack.Stack`), up for the session and always stopped:
    on failure, on Ctrl-C, and — since the stack watches this process — even when the
    session is killed."""
    import os

    from .stack import down, up
    topology = request.config.getoption("mlqa_stack_topology") or request.config.getini("mlqa_stack_topology") \
        or None
    state_dir = tmp_path_factory.mktemp("mlqa-stack")
    request.addfinalizer(lambda: down(state_dir))
    yield up(topology, state_dir, owner_pid=os.getpid())


@pytest.fixture
def mlqa_chaos(mlqa_stack, request: pytest.FixtureRequest, tmp_path: Path):
    """`mlqa_chaos(FILE)`: run a chaos experiment against the session's reference stack
    (`mlqa_stack`, whatever the file's target says) and return its `CheckResult`; every
    fault is rolled back before it returns, whatever happens. Record it in the gate with
    `mlqa_record(result)` when the test should count."""
    from .chaos import run_experiment
    from .deadline import Deadline

    def mlqa_chaos(experiment: Any, *, timeout: float = 600.0) -> Any:
        return run_experiment(experiment, attach=mlqa_stack.state_dir, out=tmp_path,
                              deadline=Deadline(timeout), state_dir=mlqa_stack.state_dir.parent / "mlqa-state")
    return mlqa_chaos
