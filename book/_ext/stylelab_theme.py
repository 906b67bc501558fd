"""The book's own additions to the theme (a Sphinx extension, loaded by `_config.yml`).

- `_theme/stylelab.css`: a wider content column, so that code at the package's line length
  (100) and figures fit without sideways scrolling or shrinking (the page's own table of
  contents moves from the right-hand sidebar to the left one; see the stylesheet).
- A require.js configuration, set before require.js loads (a global `require` object is
  its configuration). The widget manager's CSS asks for its Font Awesome fonts in the
  folder its module came from; by default that folder is /@jupyter-widgets/html-manager/dist/
  at the root of the web site, which does not exist (a 404 on every page with a slider).
  Mapping the module's folder to `_static/widget-assets/` points it at the vendored fonts.
"""

REQUIRE_CONFIG = (
    "var require = {paths: {'@jupyter-widgets/html-manager/dist':"
    " (document.documentElement.dataset.content_root || './') + '_static/widget-assets'}};"
)


def setup(app):
    app.add_css_file("stylelab.css")
    # Before require.js (priority 500): the config object must exist when it loads.
    app.add_js_file(None, body=REQUIRE_CONFIG, priority=200)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
