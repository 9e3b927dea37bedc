"""The `twolayer` command: one module per subcommand (train, predict, plot, report, tune,
bench), gathered by :mod:`twolayer.cli.main`, and the flag of each RunConfig setting
(:mod:`~twolayer.cli.flags`). It is a shell over the run layer (:mod:`twolayer.runs`,
:mod:`twolayer.rundata`, :mod:`twolayer.config`); nothing outside this package imports it."""
