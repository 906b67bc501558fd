#!/usr/bin/env bash
# Refetch the JavaScript that the rendered book needs into book/_vendor/, from the npm registry.
#
# Why vendored: by default the book's pages load the Jupyter widget manager,
# require.js and MathJax from CDNs; an offline reader (or CI, which has no
# internet) would see no sliders and raw TeX. The files are committed; this
# script only documents and repeats how they were obtained. `npm pack` checks
# each tarball against the registry's integrity hash.
#
# Why not book/_static/: Jupyter Book 1.x adds a <script> tag for every .js file
# under _static/ to every page (MathJax's components, embed-amd.js twice...).
# book/_config.yml names _vendor/ as Sphinx's html_static_path instead; Sphinx
# copies it to _build/html/_static/ all the same.
#
# Usage: scripts/vendor_js.sh   (needs node + npm; writes only book/_vendor/)
set -euo pipefail

HTML_MANAGER=1.0.15 # @jupyter-widgets/html-manager for ipywidgets 8.1 (controls 5.x)
REQUIREJS=2.3.8
MATHJAX=3.2.2

# MathJax TeX extensions that input/tex autoloads on first use (\boldsymbol, \cancel, \color...).
# Left out to stay under 5 MB: mhchem, bussproofs, physics, mathtools (need \require).
TEX_EXTENSIONS="action amscd bbox boldsymbol braket cancel cases centernot color colorv2
  empheq enclose extpfeil gensymb html unicode upgreek verb"

root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$root/book/_vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
for spec in "@jupyter-widgets/html-manager@$HTML_MANAGER" "requirejs@$REQUIREJS" "mathjax@$MATHJAX"; do
  npm pack --silent "$spec" >/dev/null
done
for tgz in *.tgz; do
  mkdir "${tgz%.tgz}" && tar -xzf "$tgz" -C "${tgz%.tgz}"
done
hm="$work/jupyter-widgets-html-manager-$HTML_MANAGER/package"
rq="$work/requirejs-$REQUIREJS/package"
mj="$work/mathjax-$MATHJAX/package"

rm -rf "$vendor/mathjax" "$vendor/licenses" "$vendor/widget-assets" "$vendor/embed-amd.js" "$vendor/require.js"
mkdir -p "$vendor/licenses"

# Widget manager with the built-in controls bundled (no module is fetched at run time).
cp "$hm/dist/embed-amd.js" "$vendor/embed-amd.js"
cp "$hm/dist/embed.js.LICENSE.txt" "$vendor/licenses/html-manager-bundled-THIRD-PARTY.txt"
cp "$rq/require.js" "$vendor/require.js"
# Its Font Awesome fonts, which its CSS asks for next to the module (see book/_ext: the
# module's path is mapped to widget-assets/). woff2 only: every browser that runs the
# widgets reads it, and the .eot/.ttf/.svg fallbacks would triple the size.
mkdir -p "$vendor/widget-assets"
for font in $(grep -o '[0-9a-f]\{20\}\.woff2' "$hm/dist/embed-amd.js" | sort -u); do
  cp "$hm/dist/$font" "$vendor/widget-assets/"
done

# MathJax as components (loader + TeX input + CommonHTML output + its woff fonts): the
# all-in-one tex-chtml.js also carries the menu and is 0.4 MB larger.
es5="$mj/es5"
for f in startup.js core.js input/tex.js output/chtml.js output/chtml/fonts/tex.js; do
  mkdir -p "$(dirname "$vendor/mathjax/$f")"
  cp "$es5/$f" "$vendor/mathjax/$f"
done
mkdir -p "$vendor/mathjax/output/chtml/fonts/woff-v2" "$vendor/mathjax/input/tex/extensions"
cp "$es5"/output/chtml/fonts/woff-v2/*.woff "$vendor/mathjax/output/chtml/fonts/woff-v2/"
for ext in $TEX_EXTENSIONS; do
  cp "$es5/input/tex/extensions/$ext.js" "$vendor/mathjax/input/tex/extensions/"
done
cp "$mj/LICENSE" "$vendor/licenses/mathjax-LICENSE.txt"

# Checksums of everything vendored, so a test notices a hand edit or a partial copy.
cd "$vendor"
find embed-amd.js require.js widget-assets mathjax licenses -type f | LC_ALL=C sort | xargs sha256sum >SHA256SUMS
total=$(cat $(cut -d' ' -f3 SHA256SUMS) | wc -c)
echo "vendored into $vendor: $(wc -l <SHA256SUMS) files, $total bytes"
