"""`discuss import ...`: bring discussions in from WordPress (WXR), Disqus and Remark42.

Each source has a reader (`wxr`, `disqus`, `remark42`) that streams its file and
yields source-neutral `ThreadSpec`s (`specs`); one writer (`writer`) turns those
into the domain's import use case (`domain.imports`), one atomic save per thread;
`run` ties a file, a reader and the writer together and records the run.
"""
