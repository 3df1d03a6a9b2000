"""Built-in check suites. Each registers through the ``mlqa.checks`` entry-point group,
exactly as a team's own checks do."""
