"""The one evaluation protocol every image method is measured by (`stylelab evaluate`).

perceptual.py    content and style loss as StyTr²/StyA2K report them, on a named encoder
structure.py     an SSIM structure score against the content
lpips_metric.py  LPIPS through the `lpips` package, only when its weights are on disk
baselines.py     the photo unchanged, and colour transfer: the scale for the numbers
peak.py          the memory one stylization needs, measured in a fresh process
temporal.py      a synthetic video with exact motion, and a method's warping error
stability.py     how much an output moves when its input window moves by d pixels
evaluate.py      every (content, style) pair through every method
report.py        the report as a Markdown table and as a figure
"""
