"""`mlqa serve`: the reference model server (the serving replica of the reference stack)."""
from ._app import RateLimiter, ServeConfig, build_app
from ._schema import Column, RequestError, Schema

__all__ = ["build_app", "ServeConfig", "RateLimiter", "Schema", "Column", "RequestError", "serve"]


def serve(app, host: str = "127.0.0.1", port: int = 8080) -> None:  # noqa: ANN001
    """Run an app with uvicorn until interrupted."""
    import uvicorn
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
