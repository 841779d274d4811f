"""One hypothesis profile for the whole suite, loaded before any test module is imported (so every
`@settings(...)` below inherits it).

- No deadline: a property's examples are judged on what they compute, never on how fast this host computed them
  (a loaded 2-core machine takes seconds where an idle one takes milliseconds).
- In CI (`CI` set, as .ci/run does) the examples are derandomized: the same examples every run, so a CI failure
  reproduces with `CI=true ./run test -k NAME`, and no example database is written. Locally the search is random
  and remembers its failures, to find new ones.
"""

import os

from hypothesis import HealthCheck, settings

IN_CI = bool(os.environ.get("CI"))
_ci_only = {"database": None} if IN_CI else {}
settings.register_profile(
    "leafvcu",
    deadline=None,
    # A slow example is the host's business, not a property's (a filter that rejects most examples still is).
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=IN_CI,
    print_blob=True,
    **_ci_only,
)
settings.load_profile("leafvcu")
