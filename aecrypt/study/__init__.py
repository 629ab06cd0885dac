"""The study machinery: notebook parameters and profiles, runs and their records, results
files, figures, the report and README block, and the workflow that runs the notebooks
(plan, freshness, job, workflow: ``aecrypt reproduce`` on Snakemake)."""
