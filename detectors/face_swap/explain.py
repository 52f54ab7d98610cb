"""Pictures a reader can check: Grad-CAM heatmaps and a contact sheet.

Grad-CAM (Selvaraju et al., 2017) weights the last 7x7 feature maps by the
gradient of the "manipulated" logit, showing *where* in the crop the
network saw a blend - for an SBI-trained model that should be the face
outline, not the background; a heatmap on the hair or the collar is itself
a warning the reader can see. The contact sheet shows which faces were
tracked, when, and each one's frame scores, so a human can check the
tracking before trusting the number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detectors.face_swap.net import FaceSwapNet, to_tensor


def grad_cam(model: FaceSwapNet, crop: np.ndarray) -> tuple[np.ndarray, float]:
    """(heatmap in [0, 1] at the crop's size, logit)."""
    import cv2
    import torch

    model.eval()
    x = to_tensor([crop], for_backward=True)
    with torch.enable_grad():
        fmap = model.feature_map(x)
        fmap.retain_grad()
        logit = model.classify(fmap)[0]
        model.zero_grad(set_to_none=True)
        logit.backward()
    weights = fmap.grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * fmap).sum(dim=1))[0].detach().numpy()
    if cam.max() > 0:
        cam = cam / cam.max()
    h, w = crop.shape[:2]
    return cv2.resize(cam.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1), float(logit.detach())


def overlay(crop: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    import cv2

    heat = cv2.applyColorMap((cam * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return (crop.astype(np.float32) * (1 - alpha) + heat.astype(np.float32) * alpha).clip(0, 255).astype(np.uint8)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.fromarray(img)
    canvas = Image.new("RGB", (im.width, im.height + 14), "white")
    canvas.paste(im, (0, 14))
    ImageDraw.Draw(canvas).text((2, 1), text, fill="black")
    return np.asarray(canvas)


def heatmap_png(model: FaceSwapNet, crop: np.ndarray, path: Path, caption: str) -> Path:
    """Crop, Grad-CAM overlay side by side, scaled 2x, with a caption."""
    from PIL import Image

    cam, _ = grad_cam(model, crop)
    pair = np.concatenate([crop, overlay(crop, cam)], axis=1)
    pair = np.asarray(Image.fromarray(pair).resize((pair.shape[1] * 2, pair.shape[0] * 2), Image.BICUBIC))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_label(pair, caption)).save(path)
    return path


def contact_sheet_png(rows: list[tuple[str, list[tuple[np.ndarray, str]]]], path: Path, per_row: int = 8) -> Path:
    """One row per track: its label, then up to ``per_row`` crops evenly
    spaced over the track, each captioned with time and frame LLR."""
    from PIL import Image, ImageDraw

    cell = 112
    label_w = 150
    height = max(1, len(rows)) * (cell + 16)
    sheet = Image.new("RGB", (label_w + per_row * cell, height), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, items) in enumerate(rows):
        y = r * (cell + 16)
        draw.multiline_text((4, y + 20), label, fill="black")
        if len(items) > per_row:
            items = [items[i] for i in np.linspace(0, len(items) - 1, per_row).round().astype(int)]
        for c, (crop, cap) in enumerate(items):
            sheet.paste(Image.fromarray(crop).resize((cell, cell)), (label_w + c * cell, y + 14))
            draw.text((label_w + c * cell + 2, y + 1), cap, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
