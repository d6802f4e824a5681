"""Style augmentation in another model's training, the two ways it is used:

1. as a transform in a DataLoader pipeline (each worker stylizes its samples on the CPU), and
2. on the GPU, inside the training step, on the whole batch at once.

    python examples/style_augment.py                       # the photos in examples/, 2 steps
    python examples/style_augment.py --photos imagenet/train --steps 100 --out sheet.jpg

Any classifier works; a small torchvision ResNet stands in here. ``--out`` saves a sheet of the
first batch before and after augmentation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.models import resnet18
from torchvision.transforms import v2
from torchvision.utils import save_image

from adain_hub import AdaIN, StyleAugment
from adain_hub.images import iter_image_files, load_image

HERE = Path(__file__).resolve().parent


class Photos(Dataset):
    """Every image under a folder, with a transform; the label is a stand-in (its parent folder's index)."""

    def __init__(self, folder: Path, transform) -> None:
        self.files = [f for f in iter_image_files(folder) if "mask" not in f.name and f.name != "hero.jpg"]
        self.classes = sorted({f.parent.name for f in self.files})
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = v2.functional.pil_to_tensor(load_image(self.files[i]))
        return self.transform(image), self.classes.index(self.files[i].parent.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=HERE, help="folder of training photos")
    parser.add_argument("--model", default=str(HERE.parent / "model_card_lite"), help="AdaIN model folder or Hub id")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="save the first batch before/after as a sheet")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    adain = AdaIN.from_pretrained(args.model)

    # 1. In the DataLoader: half the samples get one of the model's 35 famous paintings. The
    #    transform pickles into each worker, which builds its own inference engine there.
    cpu_augment = StyleAugment(adain, p=0.5, alpha=(0.5, 1.0))
    pipeline = v2.Compose([
        v2.RandomResizedCrop(224, scale=(0.5, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
        cpu_augment,                                      # (3, H, W) in, (3, H, W) out
    ])
    data = Photos(args.photos, pipeline)
    loader = DataLoader(data, batch_size=8, shuffle=True, num_workers=2, drop_last=False)

    # 2. On the GPU, in the step: random styles (a Gaussian fitted to the bank: no paintings at
    #    all) for the whole batch in one call, where the batch already is.
    gpu_augment = StyleAugment(adain.to(device), "random", p=0.5, seed=0)
    net = resnet18(num_classes=max(2, len(data.classes))).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    normalize = v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])

    step = 0
    while step < args.steps:
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device)
            before = images
            images = gpu_augment(images)                  # no gradients, fastest precision of the device
            if step == 0 and args.out:
                save_image(torch.cat([before, images]).float().cpu(), args.out, nrow=len(images))
            loss = torch.nn.functional.cross_entropy(net(normalize(images)), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            print(f"step {step}: loss {loss.item():.3f} on {device}")
            step += 1
            if step == args.steps:
                break


if __name__ == "__main__":
    main()
