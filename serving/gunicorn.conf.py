"""gunicorn configuration of the gateway for a plain
`gunicorn -c serving/gunicorn.conf.py 'serving.rest:create_app()'` (the gateway image runs
that): the settings come from the `MULTIHEAD_*` environment, read once here, and every
gunicorn setting and hook from serving/gunicorn_config.py. `python -m serving` does not
read this file: it applies the same options to its own `Settings`."""

from serving.config import Settings
from serving.gunicorn_config import GRPC_GRACE_S, options

globals().update(options(Settings.from_env()))
__all__ = ["GRPC_GRACE_S"]
