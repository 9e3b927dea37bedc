"""The `twolayer` command: one module per subcommand (train, predict, plot, tune, bench),
gathered by :mod:`twolayer.cli.main`; the flags of a RunConfig (:mod:`~twolayer.cli.flags`),
the data a run names (:mod:`~twolayer.cli.data`) and run directories (:mod:`~twolayer.cli.runs`)."""
