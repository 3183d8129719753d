"""Seeing a run: reports, comparisons and pictures of networks, from run directories.

    from dlngraph.report.run_report import write_report        # dlngraph report RUN_DIR
    from dlngraph.report.comparison import comparison_table      # dlngraph compare RUN_DIR...
    from dlngraph.report.graph_picture import write_network_picture  # dlngraph show --format png

One idea per module, from the data to the page:

- `runlog`: a run directory read back as typed data (`read_run` -> `RunLog`);
- `usage`: the per-iteration call and token counters, summed and broken down;
- `facts`: a run's headline numbers (from summary.json, or rebuilt from the log);
- `series` and `tables`: the numbers behind each chart and table;
- `plots`: matplotlib charts (Agg, no pyplot); `layout` and `graph_picture`: the network;
- `html`: an escaped, self-contained HTML page; `run_report` and `comparison` assemble them.

Only `runlog`, `usage`, `facts`, `series`, `tables` and `layout` work without matplotlib
(the `dlngraph[report]` extra); this package imports none of its modules by itself.
"""
