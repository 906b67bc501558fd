"""Chapter 7: painting from words (mechanisms.md §6).

    prompts.py      CLIPstyler's 79 prompt templates and the source text
    directional.py  the text-guided losses on embeddings: CLIPstyler's directional, patch
                    and TV losses exactly; StyleMamba's masked and second-order directional
                    losses as our reconstruction
    space.py        `ImageTextSpace` (encode_image, encode_text, unit rows; CLIPstyler's
                    prompt average and text direction), the offline text tower `MiniLMText`,
                    the image head `StatsImageHead` on the frozen encoder, and `OpenClipSpace`
                    for a real CLIP/SigLIP whose weights are on disk

    corpus.py       the captions and labels of the image tower's training pairs
    objective.py    the losses around the towers: crops + perspective, masks, content, weights
    fusion.py       StyleMamba's conditional SSM (`ConditionalSS2D`, `StyleFusion`) and
                    CLIPstyler's U-Net `StyleNet`
    optimise.py     `stylize_text`: per-prompt optimisation of either, with frames and history

Training the image tower is tooling: `stylelab.training.text_tower` (`stylelab text-space`).
"""
