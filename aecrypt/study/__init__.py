"""The study machinery: notebook parameters and profiles, runs and their records, results
files, figures, the report and README block, the batch runner."""
