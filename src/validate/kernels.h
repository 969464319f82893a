/* kernels.h: the GPU path's kernels as PTX text, generated at build time
 * from kernels.cu by clang and embed-ptx.py (see meson.build). */
#ifndef GDP_VALIDATE_KERNELS_H
#define GDP_VALIDATE_KERNELS_H

extern const char gv_kernels_ptx[];

#endif
