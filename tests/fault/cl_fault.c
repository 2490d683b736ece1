/* SPDX-License-Identifier: MIT */
/* The interposing OpenCL shim of cl_fault.h: forwards every call to the ICD loader, fails the
 * armed one, counts libclmse's references per object kind, and can hide fp64 from it. */
#define _GNU_SOURCE
#include "cl_fault.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every function defined here, with the error an injected failure returns (0: never failed).
 * The errors are ones the specification lists for that call and that a loaded or failing
 * device really produces. */
#define CLF_FUNCTIONS(X)                                             \
    X(clGetPlatformIDs, CL_OUT_OF_HOST_MEMORY)                       \
    X(clGetPlatformInfo, CL_OUT_OF_HOST_MEMORY)                      \
    X(clGetDeviceIDs, CL_OUT_OF_RESOURCES)                           \
    X(clGetDeviceInfo, CL_OUT_OF_RESOURCES)                          \
    X(clRetainDevice, 0)                                             \
    X(clReleaseDevice, 0)                                            \
    X(clCreateContext, CL_OUT_OF_HOST_MEMORY)                        \
    X(clGetContextInfo, CL_OUT_OF_HOST_MEMORY)                       \
    X(clRetainContext, 0)                                            \
    X(clReleaseContext, 0)                                           \
    X(clCreateCommandQueue, CL_OUT_OF_RESOURCES)                     \
    X(clGetCommandQueueInfo, CL_OUT_OF_RESOURCES)                    \
    X(clRetainCommandQueue, 0)                                       \
    X(clReleaseCommandQueue, 0)                                      \
    X(clFlush, CL_OUT_OF_RESOURCES)                                  \
    X(clFinish, CL_OUT_OF_RESOURCES)                                 \
    X(clCreateBuffer, CL_MEM_OBJECT_ALLOCATION_FAILURE)              \
    X(clGetMemObjectInfo, CL_OUT_OF_RESOURCES)                       \
    X(clReleaseMemObject, 0)                                         \
    X(clCreateProgramWithSource, CL_OUT_OF_HOST_MEMORY)              \
    X(clBuildProgram, CL_BUILD_PROGRAM_FAILURE)                      \
    X(clGetProgramBuildInfo, CL_OUT_OF_RESOURCES)                    \
    X(clReleaseProgram, 0)                                           \
    X(clCreateKernel, CL_OUT_OF_RESOURCES)                           \
    X(clSetKernelArg, CL_OUT_OF_RESOURCES)                           \
    X(clGetKernelWorkGroupInfo, CL_OUT_OF_RESOURCES)                 \
    X(clReleaseKernel, 0)                                            \
    X(clEnqueueNDRangeKernel, CL_OUT_OF_RESOURCES)                   \
    X(clEnqueueMarkerWithWaitList, CL_OUT_OF_HOST_MEMORY)            \
    X(clEnqueueReadBuffer, CL_MEM_OBJECT_ALLOCATION_FAILURE)         \
    X(clEnqueueWriteBuffer, CL_MEM_OBJECT_ALLOCATION_FAILURE)        \
    X(clEnqueueMapBuffer, CL_MAP_FAILURE)                            \
    X(clEnqueueUnmapMemObject, CL_OUT_OF_RESOURCES)                  \
    X(clWaitForEvents, CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) \
    X(clRetainEvent, 0)                                              \
    X(clReleaseEvent, 0)

enum {
#define CLF_ENUM_(name, err) F_##name,
    CLF_FUNCTIONS(CLF_ENUM_)
#undef CLF_ENUM_
        F_COUNT
};

static const char *const fn_names[F_COUNT] = {
#define CLF_NAME_(name, err) #name,
    CLF_FUNCTIONS(CLF_NAME_)
#undef CLF_NAME_
};

static const cl_int fn_errors[F_COUNT] = {
#define CLF_ERR_(name, err) err,
    CLF_FUNCTIONS(CLF_ERR_)
#undef CLF_ERR_
};

/* ---- images: who is calling ------------------------------------------------------------- */

enum { FROM_OTHER, FROM_CLMSE, FROM_TEST };

#define MAX_RANGES 8
typedef struct image {
    uintptr_t lo[MAX_RANGES], hi[MAX_RANGES];
    int n;
    ElfW(Addr) base;
    const ElfW(Phdr) * phdr;
    ElfW(Half) phnum;
} image;

static image clmse_image, test_image;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
typedef void (*any_fn)(void); /* casts from it to any function type are warning-free */
static any_fn reals[F_COUNT];

static void take_ranges(image *im, const struct dl_phdr_info *info)
{
    im->base = info->dlpi_addr;
    im->phdr = info->dlpi_phdr;
    im->phnum = info->dlpi_phnum;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum && im->n < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        im->lo[im->n] = info->dlpi_addr + ph->p_vaddr;
        im->hi[im->n] = im->lo[im->n] + ph->p_memsz;
        im->n++;
    }
}

static int find_images(struct dl_phdr_info *info, size_t size, void *first)
{
    (void)size;
    if (*(int *)first) {
        take_ranges(&test_image, info); /* the main program comes first */
        *(int *)first = 0;
    } else if (info->dlpi_name && strstr(info->dlpi_name, "libclmse") != NULL) {
        take_ranges(&clmse_image, info);
    }
    return 0;
}

static void init(void)
{
    int first = 1;
    dl_iterate_phdr(find_images, &first);
    for (int f = 0; f < F_COUNT; f++) {
        void *p = dlsym(RTLD_NEXT, fn_names[f]);
        if (p == NULL) {
            fprintf(stderr, "cl_fault: no OpenCL definition of %s after this program\n",
                    fn_names[f]);
            abort();
        }
        memcpy(&reals[f], &p, sizeof p); /* ISO C has no cast from void * to a function */
    }
}

static int contains(const image *im, const void *addr)
{
    const uintptr_t a = (uintptr_t)addr;
    for (int i = 0; i < im->n; i++)
        if (a >= im->lo[i] && a < im->hi[i])
            return 1;
    return 0;
}

static int origin_of(const void *ret)
{
    pthread_once(&init_once, init);
    if (contains(&clmse_image, ret))
        return FROM_CLMSE;
    return contains(&test_image, ret) ? FROM_TEST : FROM_OTHER;
}

/* ---- state (the runtime's threads may call in too) -------------------------------------- */

#define MAX_SITES 1024
#define MAX_EVENTS 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long calls, target;
static int failed_fn = -1;
static unsigned long failures[F_COUNT];
static long live[CLF_KIND_COUNT];
static int recording, skipping;
static const void *sites[MAX_SITES];
static size_t nsites;
static int hiding_fp64;
/* Programs libclmse created with the fp64 prelude, until it releases them. */
#define MAX_HIDDEN_PROGRAMS 256
static cl_program hidden_programs[MAX_HIDDEN_PROGRAMS];
/* The options of libclmse's last CLF_KEPT_BUILDS builds, by build number modulo that. */
#define BUILD_OPTIONS_CAP 512
static size_t nbuilds;
static char build_options[CLF_KEPT_BUILDS][BUILD_OPTIONS_CAP];
static int build_hidden[CLF_KEPT_BUILDS];
/* Events libclmse created or retained, with the references it (or its caller) still holds. */
static cl_event events[MAX_EVENTS];
static long event_refs[MAX_EVENTS];

static int site_known(const void *site)
{
    for (size_t i = 0; i < nsites; i++)
        if (sites[i] == site)
            return 1;
    return 0;
}

/* Counts an injectable call from `origin` and says whether it is the one to fail. */
static int should_fail(int f, const void *site, int origin)
{
    if (origin != FROM_CLMSE)
        return 0;
    int hit = 0;
    pthread_mutex_lock(&lock);
    const int known = site_known(site);
    if (recording && !known) {
        if (nsites == MAX_SITES) {
            fprintf(stderr, "cl_fault: more than %d call sites\n", MAX_SITES);
            abort();
        }
        sites[nsites++] = site;
    }
    if (!(skipping && known)) {
        calls++;
        if (target != 0 && calls == target) {
            hit = 1;
            target = 0;
            failed_fn = f;
            failures[f]++;
        }
    }
    pthread_mutex_unlock(&lock);
    return hit;
}

static void note(clf_kind kind, long delta, int origin)
{
    if (origin != FROM_CLMSE)
        return;
    pthread_mutex_lock(&lock);
    live[kind] += delta;
    pthread_mutex_unlock(&lock);
}

/* A new reference libclmse took on `ev`. */
static void event_taken(cl_event ev, int origin)
{
    if (origin != FROM_CLMSE || ev == NULL)
        return;
    pthread_mutex_lock(&lock);
    live[CLF_EVENT]++;
    size_t free_slot = MAX_EVENTS;
    for (size_t i = 0; i < MAX_EVENTS; i++) {
        if (events[i] == ev) {
            event_refs[i]++;
            pthread_mutex_unlock(&lock);
            return;
        }
        if (events[i] == NULL && free_slot == MAX_EVENTS)
            free_slot = i;
    }
    if (free_slot == MAX_EVENTS) {
        fprintf(stderr, "cl_fault: more than %d live events\n", MAX_EVENTS);
        abort();
    }
    events[free_slot] = ev;
    event_refs[free_slot] = 1;
    pthread_mutex_unlock(&lock);
}

/* A release of `ev`: libclmse's own, or its caller's of an event libclmse handed out. */
static void event_dropped(cl_event ev, int origin)
{
    if (origin == FROM_OTHER)
        return;
    pthread_mutex_lock(&lock);
    size_t i = 0;
    while (i < MAX_EVENTS && events[i] != ev)
        i++;
    if (i < MAX_EVENTS) {
        live[CLF_EVENT]--;
        if (--event_refs[i] == 0)
            events[i] = NULL;
    } else if (origin == FROM_CLMSE) {
        live[CLF_EVENT]--; /* released what it never held: shows up as a negative count */
    }
    pthread_mutex_unlock(&lock);
}

/* ---- the test's interface ---------------------------------------------------------------- */

void clf_arm(unsigned long k)
{
    pthread_mutex_lock(&lock);
    calls = 0;
    target = k;
    failed_fn = -1;
    pthread_mutex_unlock(&lock);
}

void clf_disarm(void)
{
    pthread_mutex_lock(&lock);
    target = 0;
    pthread_mutex_unlock(&lock);
}

unsigned long clf_calls(void)
{
    pthread_mutex_lock(&lock);
    const unsigned long n = calls;
    pthread_mutex_unlock(&lock);
    return n;
}

const char *clf_failed_function(void)
{
    pthread_mutex_lock(&lock);
    const int f = failed_fn;
    pthread_mutex_unlock(&lock);
    return f < 0 ? NULL : fn_names[f];
}

cl_int clf_failed_error(void)
{
    pthread_mutex_lock(&lock);
    const int f = failed_fn;
    pthread_mutex_unlock(&lock);
    return f < 0 ? CL_SUCCESS : fn_errors[f];
}

void clf_record_sites(int on)
{
    pthread_mutex_lock(&lock);
    recording = on;
    pthread_mutex_unlock(&lock);
}

void clf_skip_recorded_sites(int on)
{
    pthread_mutex_lock(&lock);
    skipping = on;
    pthread_mutex_unlock(&lock);
}

size_t clf_recorded_sites(void)
{
    pthread_mutex_lock(&lock);
    const size_t n = nsites;
    pthread_mutex_unlock(&lock);
    return n;
}

long clf_live(clf_kind kind)
{
    pthread_mutex_lock(&lock);
    const long n = live[kind];
    pthread_mutex_unlock(&lock);
    return n;
}

const char *clf_kind_name(clf_kind kind)
{
    static const char *const names[CLF_KIND_COUNT] = {
        "cl_context", "cl_command_queue", "cl_device_id", "cl_mem",
        "cl_program", "cl_kernel",        "cl_event"};
    return (unsigned)kind < CLF_KIND_COUNT ? names[kind] : "?";
}

size_t clf_function_count(void) { return F_COUNT; }

const char *clf_function_name(size_t i) { return i < F_COUNT ? fn_names[i] : NULL; }

unsigned long clf_function_failures(size_t i)
{
    pthread_mutex_lock(&lock);
    const unsigned long n = i < F_COUNT ? failures[i] : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

void clf_hide_fp64(int on)
{
    pthread_mutex_lock(&lock);
    hiding_fp64 = on;
    pthread_mutex_unlock(&lock);
}

size_t clf_builds(void)
{
    pthread_mutex_lock(&lock);
    const size_t n = nbuilds;
    pthread_mutex_unlock(&lock);
    return n;
}

int clf_build_options(size_t i, char *buf, size_t cap)
{
    int hidden = -1;
    pthread_mutex_lock(&lock);
    if (i < nbuilds && nbuilds - i <= CLF_KEPT_BUILDS) {
        snprintf(buf, cap, "%s", build_options[i % CLF_KEPT_BUILDS]);
        hidden = build_hidden[i % CLF_KEPT_BUILDS];
    } else if (cap > 0) {
        buf[0] = '\0';
    }
    pthread_mutex_unlock(&lock);
    return hidden;
}

int clf_active(void)
{
    pthread_once(&init_once, init);
    void *bound = dlsym(RTLD_DEFAULT, "clCreateBuffer");
    return clmse_image.n > 0 && contains(&test_image, bound);
}

#if __ELF_NATIVE_CLASS == 64
#define R_SYM_OF(info) ELF64_R_SYM(info)
#else
#define R_SYM_OF(info) ELF32_R_SYM(info)
#endif

/* Loaders relocate some dynamic-section pointers in place and leave others as offsets. */
static const void *dyn_ptr(ElfW(Addr) base, ElfW(Addr) p)
{
    return (const void *)(p < base ? base + p : p);
}

static void check_import(const char *name, char *buf, size_t cap, size_t *missing, size_t *imports)
{
    if (name[0] != 'c' || name[1] != 'l' || name[2] < 'A' || name[2] > 'Z')
        return;
    (*imports)++;
    int defined = 0;
    for (int f = 0; f < F_COUNT && !defined; f++)
        defined = strcmp(fn_names[f], name) == 0;
    /* Defined here but exported by no one: libclmse would still bind to the loader. */
    if (defined && contains(&test_image, dlsym(RTLD_DEFAULT, name)))
        return;
    const size_t used = strlen(buf), len = strlen(name);
    if (strstr(buf, name) != NULL) /* PLT and GOT entries may both name it */
        return;
    (*missing)++;
    if (used + len + 2 < cap)
        snprintf(buf + used, cap - used, "%s%s", used ? " " : "", name);
}

size_t clf_uncovered(char *buf, size_t cap, size_t *imports)
{
    pthread_once(&init_once, init);
    buf[0] = '\0';
    *imports = 0;
    size_t missing = 0;
    const ElfW(Dyn) *dyn = NULL;
    for (ElfW(Half) i = 0; i < clmse_image.phnum; i++)
        if (clmse_image.phdr[i].p_type == PT_DYNAMIC)
            dyn = dyn_ptr(clmse_image.base, clmse_image.base + clmse_image.phdr[i].p_vaddr);
    if (dyn == NULL) {
        snprintf(buf, cap, "(libclmse's dynamic section not found)");
        return 1;
    }
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const void *tables[2] = {NULL, NULL};
    size_t sizes[2] = {0, 0};
    int rela[2] = {1, 1};
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB:
            symtab = dyn_ptr(clmse_image.base, d->d_un.d_ptr);
            break;
        case DT_STRTAB:
            strtab = dyn_ptr(clmse_image.base, d->d_un.d_ptr);
            break;
        case DT_JMPREL:
            tables[0] = dyn_ptr(clmse_image.base, d->d_un.d_ptr);
            break;
        case DT_PLTRELSZ:
            sizes[0] = d->d_un.d_val;
            break;
        case DT_PLTREL:
            rela[0] = d->d_un.d_val == DT_RELA;
            break;
        case DT_RELA:
            tables[1] = dyn_ptr(clmse_image.base, d->d_un.d_ptr);
            break;
        case DT_RELASZ:
            sizes[1] = d->d_un.d_val;
            break;
        case DT_REL:
            tables[1] = dyn_ptr(clmse_image.base, d->d_un.d_ptr);
            rela[1] = 0;
            break;
        case DT_RELSZ:
            sizes[1] = d->d_un.d_val;
            break;
        default:
            break;
        }
    }
    for (int t = 0; t < 2 && symtab && strtab; t++) {
        const size_t entry = rela[t] ? sizeof(ElfW(Rela)) : sizeof(ElfW(Rel));
        for (size_t off = 0; tables[t] && off + entry <= sizes[t]; off += entry) {
            const unsigned char *r = (const unsigned char *)tables[t] + off;
            const ElfW(Xword) info =
                rela[t] ? ((const ElfW(Rela) *)r)->r_info : ((const ElfW(Rel) *)r)->r_info;
            const ElfW(Sym) *s = &symtab[R_SYM_OF(info)];
            if (R_SYM_OF(info) != 0 && s->st_shndx == SHN_UNDEF)
                check_import(strtab + s->st_name, buf, cap, &missing, imports);
        }
    }
    return missing;
}

/* ---- the OpenCL entry points ------------------------------------------------------------- */

#define RET __builtin_return_address(0)
#define REAL(fn) ((__typeof__(&fn))real(F_##fn))

static any_fn real(int f)
{
    pthread_once(&init_once, init);
    return reals[f];
}

/* Opens every injectable entry point; `fail_` is what the call returns when it is failed. */
#define ENTER(fn)                       \
    const int origin_ = origin_of(RET); \
    const int fail_ = should_fail(F_##fn, RET, origin_)

#define FAIL_STATUS(fn)               \
    do {                              \
        if (fail_)                    \
            return fn_errors[F_##fn]; \
    } while (0)

#define FAIL_OBJECT(fn, errcode_ret)                \
    do {                                            \
        if (fail_) {                                \
            if (errcode_ret)                        \
                *(errcode_ret) = fn_errors[F_##fn]; \
            return NULL;                            \
        }                                           \
    } while (0)

/* ---- the device without fp64 (clf_hide_fp64) --------------------------------------------- */

/* OpenCL 3.0 queries and their element type, which CL_TARGET_OPENCL_VERSION=120 leaves out. */
#define CLF_DEVICE_EXTENSIONS_WITH_VERSION 0x1060
#define CLF_DEVICE_OPENCL_C_FEATURES 0x106F
typedef struct clf_name_version {
    cl_uint version;
    char name[64];
} clf_name_version;

/* Such a device defines no cl_khr_fp64 macro for its kernels, and its compiler rejects double;
 * undeclared identifiers in place of the double types reject it here. */
static const char fp64_prelude[] = "#undef cl_khr_fp64\n"
                                   "#undef __opencl_c_fp64\n"
                                   "#define double clf_device_has_no_fp64\n"
                                   "#define double2 clf_device_has_no_fp64\n"
                                   "#define double3 clf_device_has_no_fp64\n"
                                   "#define double4 clf_device_has_no_fp64\n"
                                   "#define double8 clf_device_has_no_fp64\n"
                                   "#define double16 clf_device_has_no_fp64\n";

static int hides_fp64(int origin)
{
    if (origin != FROM_CLMSE)
        return 0;
    pthread_mutex_lock(&lock);
    const int on = hiding_fp64;
    pthread_mutex_unlock(&lock);
    return on;
}

static int is_fp64_name(const char *name, size_t len)
{
    static const char *const names[] = {"cl_khr_fp64", "__opencl_c_fp64"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return 1;
    return 0;
}

/* Hands out `n` bytes of `data` the way clGetDeviceInfo does. */
static cl_int answer(const void *data, size_t n, size_t size, void *value, size_t *size_ret)
{
    if (value != NULL && size < n)
        return CL_INVALID_VALUE;
    if (value != NULL)
        memcpy(value, data, n);
    if (size_ret != NULL)
        *size_ret = n;
    return CL_SUCCESS;
}

/* The device's answer to `what`, whole, in malloc'd memory. */
static cl_int whole_info(cl_device_id dev, cl_device_info what, unsigned char **data, size_t *n)
{
    *data = NULL;
    cl_int err = REAL(clGetDeviceInfo)(dev, what, 0, NULL, n);
    if (err != CL_SUCCESS)
        return err;
    *data = malloc(*n + 1);
    if (*data == NULL)
        return CL_OUT_OF_HOST_MEMORY;
    err = REAL(clGetDeviceInfo)(dev, what, *n, *data, NULL);
    (*data)[*n] = '\0';
    return err;
}

/* clGetDeviceInfo as a device without fp64 answers it; 0 where the answer is the real one. */
static int answer_without_fp64(cl_device_id dev, cl_device_info what, size_t size, void *value,
                               size_t *size_ret, cl_int *err)
{
    unsigned char *data = NULL;
    size_t n = 0;
    switch (what) {
    case CL_DEVICE_EXTENSIONS: { /* space-separated names */
        *err = whole_info(dev, what, &data, &n);
        if (*err != CL_SUCCESS)
            break;
        char *s = (char *)data, *w = s;
        for (const char *r = s; *r != '\0';) {
            while (*r == ' ')
                r++;
            const size_t len = strcspn(r, " ");
            if (len > 0 && !is_fp64_name(r, len)) {
                if (w != s)
                    *w++ = ' ';
                memmove(w, r, len);
                w += len;
            }
            r += len;
        }
        *w = '\0';
        *err = answer(s, (size_t)(w - s) + 1, size, value, size_ret);
        break;
    }
    case CLF_DEVICE_EXTENSIONS_WITH_VERSION:
    case CLF_DEVICE_OPENCL_C_FEATURES: { /* arrays of cl_name_version */
        *err = whole_info(dev, what, &data, &n);
        if (*err != CL_SUCCESS)
            break;
        clf_name_version *v = (clf_name_version *)data;
        size_t kept = 0;
        for (size_t i = 0; i < n / sizeof *v; i++)
            if (!is_fp64_name(v[i].name, strnlen(v[i].name, sizeof v[i].name)))
                v[kept++] = v[i];
        *err = answer(v, kept * sizeof *v, size, value, size_ret);
        break;
    }
    case CL_DEVICE_DOUBLE_FP_CONFIG:
    case CL_DEVICE_PREFERRED_VECTOR_WIDTH_DOUBLE:
    case CL_DEVICE_NATIVE_VECTOR_WIDTH_DOUBLE: { /* zero, with the real size and checks */
        *err = REAL(clGetDeviceInfo)(dev, what, size, value, &n);
        if (*err == CL_SUCCESS && value != NULL)
            memset(value, 0, n < size ? n : size);
        if (*err == CL_SUCCESS && size_ret != NULL)
            *size_ret = n;
        break;
    }
    default:
        return 0;
    }
    free(data);
    return 1;
}

/* The build hides symbols by default; these must be seen by the dynamic linker to interpose. */
#pragma GCC visibility push(default)

cl_int CL_API_CALL clGetPlatformIDs(cl_uint num_entries, cl_platform_id *platforms,
                                    cl_uint *num_platforms)
{
    ENTER(clGetPlatformIDs);
    FAIL_STATUS(clGetPlatformIDs);
    return REAL(clGetPlatformIDs)(num_entries, platforms, num_platforms);
}

cl_int CL_API_CALL clGetPlatformInfo(cl_platform_id platform, cl_platform_info param_name,
                                     size_t size, void *value, size_t *size_ret)
{
    ENTER(clGetPlatformInfo);
    FAIL_STATUS(clGetPlatformInfo);
    return REAL(clGetPlatformInfo)(platform, param_name, size, value, size_ret);
}

cl_int CL_API_CALL clGetDeviceIDs(cl_platform_id platform, cl_device_type type, cl_uint num_entries,
                                  cl_device_id *devices, cl_uint *num_devices)
{
    ENTER(clGetDeviceIDs);
    FAIL_STATUS(clGetDeviceIDs);
    return REAL(clGetDeviceIDs)(platform, type, num_entries, devices, num_devices);
}

cl_int CL_API_CALL clGetDeviceInfo(cl_device_id device, cl_device_info param_name, size_t size,
                                   void *value, size_t *size_ret)
{
    ENTER(clGetDeviceInfo);
    FAIL_STATUS(clGetDeviceInfo);
    cl_int err = CL_SUCCESS;
    if (hides_fp64(origin_) && answer_without_fp64(device, param_name, size, value, size_ret, &err))
        return err;
    return REAL(clGetDeviceInfo)(device, param_name, size, value, size_ret);
}

cl_int CL_API_CALL clRetainDevice(cl_device_id device)
{
    const cl_int err = REAL(clRetainDevice)(device);
    if (err == CL_SUCCESS)
        note(CLF_DEVICE, 1, origin_of(RET));
    return err;
}

cl_int CL_API_CALL clReleaseDevice(cl_device_id device)
{
    note(CLF_DEVICE, -1, origin_of(RET));
    return REAL(clReleaseDevice)(device);
}

cl_context CL_API_CALL clCreateContext(const cl_context_properties *properties, cl_uint num_devices,
                                       const cl_device_id *devices,
                                       void(CL_CALLBACK *pfn_notify)(const char *, const void *,
                                                                     size_t, void *),
                                       void *user_data, cl_int *errcode_ret)
{
    ENTER(clCreateContext);
    FAIL_OBJECT(clCreateContext, errcode_ret);
    cl_context c =
        REAL(clCreateContext)(properties, num_devices, devices, pfn_notify, user_data, errcode_ret);
    if (c != NULL)
        note(CLF_CONTEXT, 1, origin_);
    return c;
}

cl_int CL_API_CALL clGetContextInfo(cl_context context, cl_context_info param_name, size_t size,
                                    void *value, size_t *size_ret)
{
    ENTER(clGetContextInfo);
    FAIL_STATUS(clGetContextInfo);
    return REAL(clGetContextInfo)(context, param_name, size, value, size_ret);
}

cl_int CL_API_CALL clRetainContext(cl_context context)
{
    const cl_int err = REAL(clRetainContext)(context);
    if (err == CL_SUCCESS)
        note(CLF_CONTEXT, 1, origin_of(RET));
    return err;
}

cl_int CL_API_CALL clReleaseContext(cl_context context)
{
    note(CLF_CONTEXT, -1, origin_of(RET));
    return REAL(clReleaseContext)(context);
}

cl_command_queue CL_API_CALL clCreateCommandQueue(cl_context context, cl_device_id device,
                                                  cl_command_queue_properties properties,
                                                  cl_int *errcode_ret)
{
    ENTER(clCreateCommandQueue);
    FAIL_OBJECT(clCreateCommandQueue, errcode_ret);
    cl_command_queue q = REAL(clCreateCommandQueue)(context, device, properties, errcode_ret);
    if (q != NULL)
        note(CLF_QUEUE, 1, origin_);
    return q;
}

cl_int CL_API_CALL clGetCommandQueueInfo(cl_command_queue queue, cl_command_queue_info param_name,
                                         size_t size, void *value, size_t *size_ret)
{
    ENTER(clGetCommandQueueInfo);
    FAIL_STATUS(clGetCommandQueueInfo);
    return REAL(clGetCommandQueueInfo)(queue, param_name, size, value, size_ret);
}

cl_int CL_API_CALL clRetainCommandQueue(cl_command_queue queue)
{
    const cl_int err = REAL(clRetainCommandQueue)(queue);
    if (err == CL_SUCCESS)
        note(CLF_QUEUE, 1, origin_of(RET));
    return err;
}

cl_int CL_API_CALL clReleaseCommandQueue(cl_command_queue queue)
{
    note(CLF_QUEUE, -1, origin_of(RET));
    return REAL(clReleaseCommandQueue)(queue);
}

cl_int CL_API_CALL clFlush(cl_command_queue queue)
{
    ENTER(clFlush);
    FAIL_STATUS(clFlush);
    return REAL(clFlush)(queue);
}

cl_int CL_API_CALL clFinish(cl_command_queue queue)
{
    ENTER(clFinish);
    FAIL_STATUS(clFinish);
    return REAL(clFinish)(queue);
}

cl_mem CL_API_CALL clCreateBuffer(cl_context context, cl_mem_flags flags, size_t size,
                                  void *host_ptr, cl_int *errcode_ret)
{
    ENTER(clCreateBuffer);
    FAIL_OBJECT(clCreateBuffer, errcode_ret);
    cl_mem m = REAL(clCreateBuffer)(context, flags, size, host_ptr, errcode_ret);
    if (m != NULL)
        note(CLF_MEM, 1, origin_);
    return m;
}

cl_int CL_API_CALL clGetMemObjectInfo(cl_mem memobj, cl_mem_info param_name, size_t size,
                                      void *value, size_t *size_ret)
{
    ENTER(clGetMemObjectInfo);
    FAIL_STATUS(clGetMemObjectInfo);
    return REAL(clGetMemObjectInfo)(memobj, param_name, size, value, size_ret);
}

cl_int CL_API_CALL clReleaseMemObject(cl_mem memobj)
{
    note(CLF_MEM, -1, origin_of(RET));
    return REAL(clReleaseMemObject)(memobj);
}

cl_program CL_API_CALL clCreateProgramWithSource(cl_context context, cl_uint count,
                                                 const char **strings, const size_t *lengths,
                                                 cl_int *errcode_ret)
{
    ENTER(clCreateProgramWithSource);
    FAIL_OBJECT(clCreateProgramWithSource, errcode_ret);
    const int hidden = hides_fp64(origin_) && count > 0 && strings != NULL;
    const char **with = hidden ? malloc((count + 1) * sizeof *with) : NULL;
    size_t *with_lengths = hidden && lengths ? malloc((count + 1) * sizeof *with_lengths) : NULL;
    if (hidden && (with == NULL || (lengths && with_lengths == NULL))) {
        free(with);
        free(with_lengths);
        if (errcode_ret)
            *errcode_ret = CL_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    if (hidden) {
        with[0] = fp64_prelude;
        memcpy(with + 1, strings, count * sizeof *with);
        if (lengths) {
            with_lengths[0] = 0; /* NUL-terminated */
            memcpy(with_lengths + 1, lengths, count * sizeof *with_lengths);
        }
    }
    cl_program p =
        hidden
            ? REAL(clCreateProgramWithSource)(context, count + 1, with, with_lengths, errcode_ret)
            : REAL(clCreateProgramWithSource)(context, count, strings, lengths, errcode_ret);
    free(with);
    free(with_lengths);
    if (p != NULL)
        note(CLF_PROGRAM, 1, origin_);
    if (p != NULL && hidden) {
        pthread_mutex_lock(&lock);
        size_t i = 0;
        while (i < MAX_HIDDEN_PROGRAMS && hidden_programs[i] != NULL)
            i++;
        if (i == MAX_HIDDEN_PROGRAMS) {
            fprintf(stderr, "cl_fault: more than %d live programs without fp64\n",
                    MAX_HIDDEN_PROGRAMS);
            abort();
        }
        hidden_programs[i] = p;
        pthread_mutex_unlock(&lock);
    }
    return p;
}

cl_int CL_API_CALL clBuildProgram(cl_program program, cl_uint num_devices,
                                  const cl_device_id *device_list, const char *options,
                                  void(CL_CALLBACK *pfn_notify)(cl_program, void *),
                                  void *user_data)
{
    ENTER(clBuildProgram);
    FAIL_STATUS(clBuildProgram);
    if (origin_ == FROM_CLMSE) {
        pthread_mutex_lock(&lock);
        const size_t slot = nbuilds++ % CLF_KEPT_BUILDS;
        snprintf(build_options[slot], BUILD_OPTIONS_CAP, "%s", options ? options : "");
        build_hidden[slot] = 0;
        for (size_t i = 0; i < MAX_HIDDEN_PROGRAMS; i++)
            build_hidden[slot] |= hidden_programs[i] == program;
        pthread_mutex_unlock(&lock);
    }
    return REAL(clBuildProgram)(program, num_devices, device_list, options, pfn_notify, user_data);
}

cl_int CL_API_CALL clGetProgramBuildInfo(cl_program program, cl_device_id device,
                                         cl_program_build_info param_name, size_t size, void *value,
                                         size_t *size_ret)
{
    ENTER(clGetProgramBuildInfo);
    FAIL_STATUS(clGetProgramBuildInfo);
    return REAL(clGetProgramBuildInfo)(program, device, param_name, size, value, size_ret);
}

cl_int CL_API_CALL clReleaseProgram(cl_program program)
{
    const int origin = origin_of(RET);
    note(CLF_PROGRAM, -1, origin);
    if (origin == FROM_CLMSE) { /* libclmse holds one reference to each program it creates */
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < MAX_HIDDEN_PROGRAMS; i++)
            if (hidden_programs[i] == program)
                hidden_programs[i] = NULL;
        pthread_mutex_unlock(&lock);
    }
    return REAL(clReleaseProgram)(program);
}

cl_kernel CL_API_CALL clCreateKernel(cl_program program, const char *kernel_name,
                                     cl_int *errcode_ret)
{
    ENTER(clCreateKernel);
    FAIL_OBJECT(clCreateKernel, errcode_ret);
    cl_kernel k = REAL(clCreateKernel)(program, kernel_name, errcode_ret);
    if (k != NULL)
        note(CLF_KERNEL, 1, origin_);
    return k;
}

cl_int CL_API_CALL clSetKernelArg(cl_kernel kernel, cl_uint index, size_t size, const void *value)
{
    ENTER(clSetKernelArg);
    FAIL_STATUS(clSetKernelArg);
    return REAL(clSetKernelArg)(kernel, index, size, value);
}

cl_int CL_API_CALL clGetKernelWorkGroupInfo(cl_kernel kernel, cl_device_id device,
                                            cl_kernel_work_group_info param_name, size_t size,
                                            void *value, size_t *size_ret)
{
    ENTER(clGetKernelWorkGroupInfo);
    FAIL_STATUS(clGetKernelWorkGroupInfo);
    return REAL(clGetKernelWorkGroupInfo)(kernel, device, param_name, size, value, size_ret);
}

cl_int CL_API_CALL clReleaseKernel(cl_kernel kernel)
{
    note(CLF_KERNEL, -1, origin_of(RET));
    return REAL(clReleaseKernel)(kernel);
}

cl_int CL_API_CALL clEnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel,
                                          cl_uint work_dim, const size_t *global_offset,
                                          const size_t *global_size, const size_t *local_size,
                                          cl_uint num_wait, const cl_event *wait, cl_event *event)
{
    ENTER(clEnqueueNDRangeKernel);
    FAIL_STATUS(clEnqueueNDRangeKernel);
    const cl_int err = REAL(clEnqueueNDRangeKernel)(queue, kernel, work_dim, global_offset,
                                                    global_size, local_size, num_wait, wait, event);
    if (err == CL_SUCCESS && event != NULL)
        event_taken(*event, origin_);
    return err;
}

cl_int CL_API_CALL clEnqueueMarkerWithWaitList(cl_command_queue queue, cl_uint num_wait,
                                               const cl_event *wait, cl_event *event)
{
    ENTER(clEnqueueMarkerWithWaitList);
    FAIL_STATUS(clEnqueueMarkerWithWaitList);
    const cl_int err = REAL(clEnqueueMarkerWithWaitList)(queue, num_wait, wait, event);
    if (err == CL_SUCCESS && event != NULL)
        event_taken(*event, origin_);
    return err;
}

cl_int CL_API_CALL clEnqueueReadBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking,
                                       size_t offset, size_t size, void *ptr, cl_uint num_wait,
                                       const cl_event *wait, cl_event *event)
{
    ENTER(clEnqueueReadBuffer);
    FAIL_STATUS(clEnqueueReadBuffer);
    const cl_int err = REAL(clEnqueueReadBuffer)(queue, buffer, blocking, offset, size, ptr,
                                                 num_wait, wait, event);
    if (err == CL_SUCCESS && event != NULL)
        event_taken(*event, origin_);
    return err;
}

cl_int CL_API_CALL clEnqueueWriteBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking,
                                        size_t offset, size_t size, const void *ptr,
                                        cl_uint num_wait, const cl_event *wait, cl_event *event)
{
    ENTER(clEnqueueWriteBuffer);
    FAIL_STATUS(clEnqueueWriteBuffer);
    const cl_int err = REAL(clEnqueueWriteBuffer)(queue, buffer, blocking, offset, size, ptr,
                                                  num_wait, wait, event);
    if (err == CL_SUCCESS && event != NULL)
        event_taken(*event, origin_);
    return err;
}

void *CL_API_CALL clEnqueueMapBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking,
                                     cl_map_flags flags, size_t offset, size_t size,
                                     cl_uint num_wait, const cl_event *wait, cl_event *event,
                                     cl_int *errcode_ret)
{
    ENTER(clEnqueueMapBuffer);
    FAIL_OBJECT(clEnqueueMapBuffer, errcode_ret);
    cl_int err = CL_SUCCESS;
    void *p = REAL(clEnqueueMapBuffer)(queue, buffer, blocking, flags, offset, size, num_wait, wait,
                                       event, &err);
    if (errcode_ret)
        *errcode_ret = err;
    if (err == CL_SUCCESS && event != NULL)
        event_taken(*event, origin_);
    return p;
}

cl_int CL_API_CALL clEnqueueUnmapMemObject(cl_command_queue queue, cl_mem memobj, void *mapped,
                                           cl_uint num_wait, const cl_event *wait, cl_event *event)
{
    ENTER(clEnqueueUnmapMemObject);
    FAIL_STATUS(clEnqueueUnmapMemObject);
    const cl_int err = REAL(clEnqueueUnmapMemObject)(queue, memobj, mapped, num_wait, wait, event);
    if (err == CL_SUCCESS && event != NULL)
        event_taken(*event, origin_);
    return err;
}

cl_int CL_API_CALL clWaitForEvents(cl_uint num_events, const cl_event *event_list)
{
    ENTER(clWaitForEvents);
    FAIL_STATUS(clWaitForEvents);
    return REAL(clWaitForEvents)(num_events, event_list);
}

cl_int CL_API_CALL clRetainEvent(cl_event event)
{
    const cl_int err = REAL(clRetainEvent)(event);
    if (err == CL_SUCCESS)
        event_taken(event, origin_of(RET));
    return err;
}

cl_int CL_API_CALL clReleaseEvent(cl_event event)
{
    event_dropped(event, origin_of(RET));
    return REAL(clReleaseEvent)(event);
}

#pragma GCC visibility pop
