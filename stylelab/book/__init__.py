"""Book tooling (the `book` extra): execute the chapters, build and check the HTML, and the
helpers the chapters use for widgets and figures.

    sources.py     the table of contents and the chapters' hygiene (no outputs, parameters)
    runner.py      papermill execution, the Jupyter Book build, the whole pipeline
    html_check.py  the scan of the built pages (error outputs, stderr, external assets, widgets)
    page_audit.py  what a reader sees, measured in Chromium at 1280 px (clipped equations,
                   code that scrolls sideways, shrunk figures); run by the browser test
    widgets.py          sliders over precomputed frames (work in static HTML)
    figures.py          image grids with captions, log-log timing panels
    training_curves.py  chapter 2's training-run summary and loss curves
    decoder_layout.py   chapter 2's table of the decoder, level by level
    naive_wkv.py        chapter 3's Bi-WKV written straight from the formula (it overflows)
    scan_figures.py     chapter 3's scan-order maps, slider frames and simulator check

None of this is imported by `import stylelab` or by `stylelab stylize`.
"""
