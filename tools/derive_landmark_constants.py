"""Derive the constants in ``synth/landmarks/layout.py`` and ``synth/models/canonical_face.npy``.

Run once from the repository root (it takes about a minute):

    .venv/bin/python tools/derive_landmark_constants.py --data ../shared/data/faces

1. **Canonical 3D face** (468 x 3 float32, x right, y down, z away from the camera, units
   of inter-ocular distance, origin at the eye midpoint): MediaPipe's per-landmark
   ``(x, y, z)`` on every frame where it found a face, each frame aligned to the running
   mean by a 3D similarity (generalised Procrustes, 5 rounds), averaged, then turned so
   that the eye line is the x axis and the face plane faces -z. MediaPipe's wheel ships
   no canonical face model, so it is averaged from its own outputs (DESIGN.md).
2. **Mesh -> iBUG 68 mapping**: for each of dlib's 68 points, the mesh vertex with the
   smallest mean distance (in IOD) to it over frames where both backends found the face.
3. **Cheek vertices**: mesh vertices of the canonical face below the lower eyelids, above
   the mouth corners, lateral to the nose wings, inside the face oval, not on the lips and
   over 0.25 IOD from the mouth corners.

It prints the mapping and the cheek lists to paste into layout.py, and writes the .npy.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

import cv2
import dlib
import mediapipe as mp
import numpy as np

from kinefake.synth.video import probe, read_frames

FRAMES_PER_CLIP = 60
RIGHT_EYE = sorted({i for e in mp.solutions.face_mesh_connections.FACEMESH_RIGHT_EYE for i in e})
LEFT_EYE = sorted({i for e in mp.solutions.face_mesh_connections.FACEMESH_LEFT_EYE for i in e})
OVAL = sorted({i for e in mp.solutions.face_mesh_connections.FACEMESH_FACE_OVAL for i in e})
LIPS = {i for e in mp.solutions.face_mesh_connections.FACEMESH_LIPS for i in e}


def similarity_3d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``src`` (N, 3) mapped onto ``dst`` by the least-squares similarity (Umeyama, no reflection)."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    u, sig, vt = np.linalg.svd(d.T @ s)
    fix = np.diag([1, 1, np.sign(np.linalg.det(u @ vt))])
    rot = u @ fix @ vt
    scale = np.trace(np.diag(sig) @ fix) / (s**2).sum()
    return scale * s @ rot.T + md


def collect(data: Path):
    predictor = dlib.shape_predictor(
        os.path.join(
            importlib.util.find_spec("face_recognition_models").submodule_search_locations[0],
            "models",
            "shape_predictor_68_face_landmarks.dat",
        )
    )
    detector = dlib.get_frontal_face_detector()
    meshes, pairs = [], []
    for path in sorted(p for p in data.glob("*") if p.suffix in (".mp4", ".mpg")):
        frames = read_frames(path, 0, min(FRAMES_PER_CLIP, probe(path).frame_count))
        with mp.solutions.face_mesh.FaceMesh(max_num_faces=1) as mesh:
            for i, frame in enumerate(frames):
                found = mesh.process(frame).multi_face_landmarks
                if not found:
                    continue
                h, w = frame.shape[:2]
                pts = np.array([[p.x * w, p.y * h, p.z * w] for p in found[0].landmark[:468]], np.float64)
                meshes.append(pts)
                if i % 3 == 0:
                    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
                    rects = detector(gray, 1)
                    if rects:
                        rect = max(rects, key=lambda r: r.area())
                        shape = predictor(gray, rect)
                        pairs.append((pts[:, :2], np.array([[p.x, p.y] for p in shape.parts()], np.float64)))
    return meshes, pairs


def canonical_face(meshes: list[np.ndarray]) -> np.ndarray:
    mean = meshes[0]
    for _ in range(5):
        mean = np.mean([similarity_3d(m, mean) for m in meshes], axis=0)
    right, left = mean[RIGHT_EYE].mean(0), mean[LEFT_EYE].mean(0)
    mean = (mean - (right + left) / 2) / np.linalg.norm(left - right)
    x = left - right
    x /= np.linalg.norm(x)
    _, _, vt = np.linalg.svd(mean - mean.mean(0))
    z = vt[2] - (vt[2] @ x) * x
    z /= np.linalg.norm(z)
    if (mean[1] - mean.mean(0)) @ z > 0:  # nose tip (vertex 1) must point to -z, the camera
        z = -z
    y = np.cross(z, x)
    return (mean @ np.stack([x, y, z]).T).astype(np.float32)


def mesh_to_ibug(pairs) -> list[int]:
    total = np.zeros((68, 468))
    for mesh, ibug in pairs:
        iod = np.linalg.norm(ibug[36:42].mean(0) - ibug[42:48].mean(0))
        total += np.linalg.norm(ibug[:, None] - mesh[None], axis=-1) / iod
    return total.argmin(1).tolist()


def cheeks(face: np.ndarray, ibug: list[int]) -> tuple[list[int], list[int]]:
    eye_bottom = max(face[ibug[i], 1] for i in (40, 41, 46, 47)) + 0.1
    mouth_corner = min(face[ibug[48], 1], face[ibug[54], 1]) - 0.05
    nose_wing = max(abs(face[ibug[31], 0]), abs(face[ibug[35], 0])) + 0.05
    oval = face[OVAL, :2]
    hull = cv2.convexHull((oval * 1000).astype(np.int32))
    inner = [
        i
        for i in range(468)
        if eye_bottom < face[i, 1] < mouth_corner
        and abs(face[i, 0]) > nose_wing
        and i not in LIPS
        and min(np.linalg.norm(face[i, :2] - face[ibug[j], :2]) for j in (48, 54)) > 0.25
        and cv2.pointPolygonTest(hull, (float(face[i, 0] * 1000), float(face[i, 1] * 1000)), True) > 80
    ]
    return sorted(i for i in inner if face[i, 0] < 0), sorted(i for i in inner if face[i, 0] > 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/faces"))
    parser.add_argument("--out", type=Path, default=Path("synth/models/canonical_face.npy"))
    args = parser.parse_args()
    meshes, pairs = collect(args.data)
    face = canonical_face(meshes)
    np.save(args.out, face)
    ibug = mesh_to_ibug(pairs)
    right, left = cheeks(face, ibug)
    print(f"{len(meshes)} mesh frames, {len(pairs)} paired frames; wrote {args.out}")
    print("MESH_TO_IBUG68 =", ibug)
    print("CHEEK_RIGHT =", right)
    print("CHEEK_LEFT =", left)


if __name__ == "__main__":
    main()
