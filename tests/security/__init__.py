"""Security suites of the partner and admin APIs (../shared/brief/reliability.md R5-R7).

Operations are discovered from the apps (routes.py), never listed by hand. Each suite runs
in-process over the in-memory fakes (world.py ``MemoryWorld``: every router's ``use()`` seam wired
to one shared set of fakes) and, marked ``localcloud``, against the deployed stack over HTTP:

* tenant isolation: isolation_cases.py (one case per id-taking operation; a meta-test names the
  operations without one), test_isolation.py, test_isolation_localcloud.py;
* admin operations with a partner key -> 403: test_admin_forbidden*.py;
* mass assignment -> 422: test_mass_assignment.py;
* schemathesis over the committed OpenAPI documents, no 5xx: test_schemathesis*.py.
"""
