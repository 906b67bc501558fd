"""Chapter 7: painting from words (mechanisms.md §6).

    prompts.py      CLIPstyler's 79 prompt templates and the source text
    directional.py  the text-guided losses on embeddings: CLIPstyler's directional, patch
                    and TV losses exactly; StyleMamba's masked and second-order directional
                    losses as our reconstruction

The image-text space these losses need (an offline text tower and a small image tower
trained here, or CLIP/SigLIP when their weights are on disk) is the next piece of issue 14.
"""
