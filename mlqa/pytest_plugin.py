"""The mlqa pytest plugin (entry point `pytest11: mlqa`).

Thin by design: options, fixtures, the `mlqa` marker, collection of the config's checks as
items, and one session-finish step that asks the core gate for a decision and writes the
reports. Importing this module imports nothing heavy, so projects that never pass
`--mlqa-config` pay (almost) nothing for having mlqa installed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

_STATE = pytest.StashKey["_State"]()


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
    state = _State(config, Path(path).resolve() if path else None, stage)
    config.stash[_STATE] = state
    if state.config_path is None:
        if stage:
            raise pytest.UsageError("--mlqa-stage needs --mlqa-config (the mlqa.yaml that declares the stage)")
        return
    state.load()
    for suite in sorted({c.check_id.split(".")[0] for c in state.cfg.checks}):
        config.addinivalue_line("markers", f"{suite}: mlqa checks of the {suite} suite")
    target = str(state.config_path)
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        if target not in config.args:
            config.args.append(target)
    else:  # no paths given: the run is the config's checks
        config.args[:] = [target]


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    state: _State | None = parent.config.stash.get(_STATE, None)
    if state is not None and state.config_path is not None and file_path.resolve() == state.config_path:
        return MlqaFile.from_parent(parent, path=file_path)
    return None


class MlqaFile(pytest.File):
    """An mlqa.yaml: one item per entry of its `checks:` list."""

    def collect(self):
        state = self.config.stash[_STATE]
        for instance in state.cfg.checks:
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
        state: _State = self.config.stash[_STATE]
        result = state.run(self.instance)
        self.gated = gated = state.gate_one(result)
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
            from ._console import describe_failure
            return describe_failure(self.gated, self.config.stash[_STATE].stage_name,
                                    f"{self.path}:{self.instance.line}")
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, (self.instance.line or 1) - 1, f"mlqa check {self.instance.key}"


class _State:
    """Per-session mlqa state: the loaded config, the runner, and every result gathered."""

    def __init__(self, config: pytest.Config, config_path: Path | None, stage: str | None) -> None:
        self.pytest_config = config
        self.config_path = config_path
        self.stage_name = stage
        self.cfg = None
        self.stage = None
        self.runner = None
        self.results: list = []
        self.recorded: list = []
        self.decision = None
        self.doc = None
        self.files: dict = {}
        self.started_at = ""

    def load(self) -> None:
        from .errors import MlqaError
        from .config import load_config
        from .runner import Runner
        from .api import now_iso
        try:
            self.cfg = load_config(self.config_path)
            self.stage = self.cfg.stage(self.stage_name) if self.stage_name else None
        except MlqaError as exc:
            pytest.exit(f"mlqa: error: {exc}", returncode=2)
        self.runner = Runner(self.cfg)
        self.started_at = now_iso()

    @property
    def policy(self):
        from .gate import ALL_STAGES
        return self.stage or ALL_STAGES

    def context(self):
        from .errors import ConfigError
        if self.runner is None:
            raise pytest.UsageError("this test needs an mlqa config: run pytest with "
                                    "--mlqa-config mlqa.yaml (or set mlqa_config in the ini file)")
        try:
            return self.runner.context
        except ConfigError as exc:
            pytest.exit(f"mlqa: error: {exc}", returncode=2)

    def run(self, instance):
        self.context()
        result = self.runner.run_one(instance)
        self.results.append(result)
        return result

    def gate_one(self, result):
        import datetime as _dt
        from .gate import gate_check
        return gate_check(self.policy, result, _dt.date.today())

    def finish(self, session: pytest.Session) -> None:
        import time
        from .api import RunOutcome, subject_info
        from .gate import decide
        from .reports import document, write_all
        results = self.results + self.recorded
        if self.cfg is None and not results:
            return
        expected = [c.key for c in self.cfg.checks] if (self.cfg is not None and self.stage) else []
        t0 = time.perf_counter()
        subject = subject_info(self.cfg) if self.cfg is not None else {}
        self.decision = decide(self.policy, results, expected=expected, subject=subject,
                               started_at=self.started_at,
                               duration_s=sum(r.duration_s for r in results) + time.perf_counter() - t0)
        out = self.pytest_config.getoption("mlqa_out") or ("mlqa-out" if self.cfg is not None else None)
        if self.cfg is not None:
            outcome = RunOutcome(config=self.cfg, results=results,
                                 decision=self.decision if self.stage else None,
                                 started_at=self.started_at, duration_s=self.decision.duration_s,
                                 selected=list(self.cfg.checks))
            self.doc = document(outcome)
            if out:
                self.files = write_all(Path(out), outcome)
        else:
            self.doc = self.decision.to_dict()
        self.pytest_config.hook.pytest_mlqa_decision(decision=self.decision, config=self.pytest_config)
        if not self.decision.promoted and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state: _State | None = session.config.stash.get(_STATE, None)
    if state is None or session.config.option.collectonly:
        return
    if exitstatus not in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.USAGE_ERROR):
        state.finish(session)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    state: _State | None = config.stash.get(_STATE, None)
    if state is None or state.doc is None:
        return
    from ._console import plain_table
    terminalreporter.write_sep("=", "mlqa gate" + (f" (stage {state.stage_name})" if state.stage_name else ""))
    for line in plain_table(state.doc).splitlines():
        terminalreporter.write_line(line)
    if state.files:
        terminalreporter.write_line("mlqa reports: " + ", ".join(str(p) for p in state.files.values()))


# ---------------------------------------------------------------- fixtures
def _state(request: pytest.FixtureRequest) -> _State:
    return request.config.stash[_STATE]


@pytest.fixture(scope="session")
def mlqa_config(request: pytest.FixtureRequest):
    """The validated `mlqa.config.Config` of --mlqa-config."""
    state = _state(request)
    state.context()
    return state.cfg


@pytest.fixture(scope="session")
def mlqa_context(request: pytest.FixtureRequest):
    """The `CheckContext` checks receive: call any check function with it directly."""
    return _state(request).context()


def _loaded(ctx, name: str):
    subject = getattr(ctx, name)
    if subject is None:
        pytest.fail(f"mlqa_{name}: the config declares no loadable `{name}:` "
                    + ctx.subject_errors.get(name, ""), pytrace=False)
    return subject.obj


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
    """The data: `.train` / `.test` (`mlqa.subjects.Dataset`: .frame, .X, .y), `.label`,
    `.positive_label`, `.sensitive`."""
    from .subjects import DataBundle
    return DataBundle.from_context(mlqa_context)


@pytest.fixture
def mlqa_record(request: pytest.FixtureRequest):
    """`mlqa_record(result)`: add a hand-written `CheckResult` to the gate."""
    from .results import CheckResult
    from .registry import CHECK_ID
    state = _state(request)

    def record(result: CheckResult) -> CheckResult:
        if not isinstance(result, CheckResult):
            raise TypeError("mlqa_record takes an mlqa.CheckResult")
        if not CHECK_ID.match(result.id.split("[")[0]):
            raise ValueError(f"recorded result needs an id like 'suite.name', got {result.id!r}")
        state.recorded.append(result)
        return result
    return record


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
