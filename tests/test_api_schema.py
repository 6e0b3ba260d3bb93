"""Schemathesis against /openapi.json: generated requests get answers that match the schema.

Bounded (20 examples per operation, derandomised), in-process over ASGI (no network), on the GET
endpoints and POST /api/similarity; POST /api/articles is excluded (it writes; test_api_errors.py
and test_api_write.py cover it). Most generated ids are unknown, so detail requests exercise the
404 path; the filters and the similarity texts exercise the rest.

The schema is loaded at collection time (schemathesis' fixture-based lazy loading does not run on
pytest 9), from an app over the small test store written into a temporary directory.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from conftest import build_api_store
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tidings.api import create_app
from tidings.config import Settings

_DIR = Path(tempfile.mkdtemp(prefix="tidings-schema-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
build_api_store(_DIR / "api.db")
# the request guards off (rate limit, query-string limits: tests/test_trust_server.py covers them):
# the generated requests are to exercise the routes and their own schema limits
APP = create_app(str(_DIR / "api.db"), Settings.load(env={}, overrides={"server": {
    "rate_limit_per_minute": 0, "max_query_string_bytes": 10**8, "max_params": 10**6, "max_param_chars": 10**8}}))

schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(method="POST", path="/api/articles")


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi_schema(case):
    # Every other built-in check runs (no 5xx, documented status codes, content types, headers and
    # response schemas, negative data rejected). positive_data_acceptance is left out on purpose: a
    # cursor is an opaque token, and a date or a search text can match its schema type and still be
    # unusable ("2016-13-45", "©"); those are answered 400 with code T500, as documented.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
