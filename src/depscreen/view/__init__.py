"""The screening view: what `predict` computes, shown to a person reviewing one interview.

    page.py     one interview's self-contained HTML page (from `predict_interview`'s result)
    index.py    the ranked index page of a batch, linking to each session's page
    media.py    the recording re-encoded for embedding (FLAC, 16 kHz mono, a data: URI)
    report.py   writing pages (atomically, never over an input) for `predict --report`
    upload.py   streaming a multipart upload into a temporary folder, size-limited
    app.py      `create_app`: the local web app behind `depscreen serve`
    assets.py   the pages' CSS and JavaScript (string constants: no package data files)

A layer of its own above inference (it renders inference's results) and below the
recipes/CLI. Pages load nothing from anywhere: a Content-Security-Policy forbids every
external source, and the recording, when embedded, is a data: URI. Without `include_text`
the result holds no transcript words, so neither does the page.
"""
