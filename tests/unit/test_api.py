"""The public API (`mlqa.__all__`): what a check author and a pipeline need, typed; the
advanced internals stay in their modules."""
import inspect
import subprocess
import sys

import mlqa

WRITING_A_CHECK = {"check", "CheckContext", "CheckResult", "error_result", "Column", "Columns", "Model",
                   "Dataset", "Deadline", "Cancelled"}
RUNNING = {"Session", "RunOutcome", "run", "gate", "load_config", "Config", "Decision", "GatedCheck"}
ERRORS = {"MlqaError", "ConfigError", "SubjectError", "UnsafeModelError"}


def test_all_is_what_a_plugin_author_and_a_pipeline_need():
    assert set(mlqa.__all__) == WRITING_A_CHECK | RUNNING | ERRORS | {"__version__"}
    for name in mlqa.__all__:
        assert hasattr(mlqa, name), name
    for internal in ("Registry", "CheckSpec", "run_check", "build_context", "decide"):
        assert internal not in mlqa.__all__


def test_the_functions_are_the_real_ones_with_typed_signatures():
    from mlqa import session
    import mlqa.gate  # noqa: F401 - the policy module: importing it does not hide the function
    assert mlqa.run is session.run and mlqa.gate is session.gate and mlqa.Session is session.Session
    for fn in (mlqa.run, mlqa.gate, mlqa.load_config, mlqa.check, mlqa.error_result, mlqa.Session.__init__,
               mlqa.Session.run, mlqa.Session.record, mlqa.Session.finish):
        sig = inspect.signature(fn)
        untyped = [p.name for p in sig.parameters.values()
                   if p.name != "self" and p.annotation is inspect.Parameter.empty]
        assert not untyped, f"{fn.__qualname__}: untyped {untyped}"
        assert sig.return_annotation is not inspect.Signature.empty, fn.__qualname__
        assert fn.__doc__, fn.__qualname__


def test_a_check_receives_a_check_context():
    @mlqa.check("acme.echo")
    def echo(ctx: mlqa.CheckContext) -> mlqa.CheckResult:
        return mlqa.CheckResult(status="passed", metrics={"seed": ctx.seed})
    res = echo(mlqa.CheckContext(seed=3))
    assert res.id == "acme.echo" and res.seed == 3 and res.metrics == {"seed": 3}


def test_import_mlqa_and_the_plugin_stay_light():
    """The pytest plugin imports `mlqa` in every project where it is installed: the engine
    loads only when a name needs it."""
    code = ("import sys, mlqa, mlqa.pytest_plugin; heavy = [m for m in ('numpy', 'pandas', 'sklearn', 'scipy', "
            "'httpx', 'locust', 'torch', 'starlette', 'jinja2', 'rich', 'yaml', 'mlqa.session', 'mlqa.config') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
