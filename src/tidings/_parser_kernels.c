/* The products of spaCy's transition parser loop, off blis's reference kernels.

spaCy's parser (the NER of every spaCy recogniser) multiplies in a Cython loop, without the GIL,
through the function pointers of a thinc ``CBlas`` (``ops.cblas()``): blis's ``sgemm`` and
``saxpy``. blis 1.3.4 does not know this machine's CPU (AMD Zen 4) and runs its generic reference
kernels, and for the parser's shapes (one state: a [1, 64] x [64, ~30] product and a few 128-float
additions per token) most of a call is blis's set-up and packing, not arithmetic.

thinc exports ``set_sgemm`` and ``set_saxpy`` (thinc/backends/cblas.pxd, kept stable for other
backends: thinc PR 700, thinc-apple-ops) through the module's ``__pyx_capi__``, as Cython's
``cimport`` reads them. :func:`install` puts the two functions below into a CBlas:

- ``sgemm``: C = alpha * op(A) op(B) + beta * C, row-major, as blis.cy.sgemm. Each element is
  summed over k in order from zero, then scaled, as blis's reference kernels do, and the file is
  compiled with ``-ffp-contract=off`` (no fused multiply-add): the same float operations in the
  same order, so the same bits (tests/test_parser_kernels.py compares them with blis).
- ``saxpy``: y += alpha * x, element by element (one rounding each, in any order).
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef void (*sgemm_ptr)(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc);
typedef void (*saxpy_ptr)(int N, float alpha, const float *X, int incX, float *Y, int incY);
typedef void (*set_sgemm_ptr)(PyObject *cblas, sgemm_ptr sgemm);
typedef void (*set_saxpy_ptr)(PyObject *cblas, saxpy_ptr saxpy);

#define BLOCK 8

static void parser_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc)
{
    /* op(A)[i, l] = A[i * a_i + l * a_l]; op(B)[l, j] = B[l * b_l + j * b_j] */
    const long a_i = transA ? 1 : lda, a_l = transA ? lda : 1;
    const long b_l = transB ? 1 : ldb, b_j = transB ? ldb : 1;
    for (int i = 0; i < M; i++) {
        const float *arow = A + i * a_i;
        float *crow = C + (long)i * ldc;
        for (int j0 = 0; j0 < N; j0 += BLOCK) {
            const int width = N - j0 < BLOCK ? N - j0 : BLOCK;
            float acc[BLOCK] = {0};
            if (width == BLOCK) {
                for (int l = 0; l < K; l++) {
                    const float a = arow[l * a_l];
                    const float *b = B + l * b_l + j0 * b_j;
                    for (int t = 0; t < BLOCK; t++)
                        acc[t] += a * b[t * b_j];
                }
            } else {
                for (int l = 0; l < K; l++) {
                    const float a = arow[l * a_l];
                    const float *b = B + l * b_l + j0 * b_j;
                    for (int t = 0; t < width; t++)
                        acc[t] += a * b[t * b_j];
                }
            }
            for (int t = 0; t < width; t++) {
                float *c = crow + j0 + t;
                *c = beta == 0.0f ? alpha * acc[t] : alpha * acc[t] + beta * *c;
            }
        }
    }
}

static void parser_saxpy(int N, float alpha, const float *X, int incX, float *Y, int incY)
{
    if (incX == 1 && incY == 1) {
        for (int i = 0; i < N; i++)
            Y[i] += alpha * X[i];
        return;
    }
    for (int i = 0; i < N; i++)
        Y[(long)i * incY] += alpha * X[(long)i * incX];
}

/* thinc.backends.cblas.<attribute> (a new reference), or NULL with the error set */
static PyObject *cblas_attribute(const char *attribute)
{
    PyObject *module = PyImport_ImportModule("thinc.backends.cblas");
    if (module == NULL)
        return NULL;
    PyObject *value = PyObject_GetAttrString(module, attribute);
    Py_DECREF(module);
    return value;
}

static void *thinc_function(const char *name)
{
    PyObject *capi = cblas_attribute("__pyx_capi__");
    if (capi == NULL)
        return NULL;
    PyObject *capsule = PyDict_GetItemString(capi, name);   /* borrowed */
    void *pointer = NULL;
    if (capsule == NULL)
        PyErr_Format(PyExc_ImportError, "thinc.backends.cblas exports no %s", name);
    else
        pointer = PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule));
    Py_DECREF(capi);
    return pointer;
}

static set_sgemm_ptr set_sgemm = NULL;
static set_saxpy_ptr set_saxpy = NULL;

static PyObject *install(PyObject *self, PyObject *cblas)
{
    if (set_sgemm == NULL || set_saxpy == NULL) {
        set_sgemm = (set_sgemm_ptr)thinc_function("set_sgemm");
        set_saxpy = (set_saxpy_ptr)thinc_function("set_saxpy");
        if (set_sgemm == NULL || set_saxpy == NULL)
            return NULL;
    }
    PyObject *type = cblas_attribute("CBlas");
    if (type == NULL)
        return NULL;
    int ok = PyObject_TypeCheck(cblas, (PyTypeObject *)type);
    Py_DECREF(type);
    if (!ok) {
        PyErr_SetString(PyExc_TypeError, "install() takes a thinc.backends.cblas.CBlas");
        return NULL;
    }
    set_sgemm(cblas, parser_sgemm);
    set_saxpy(cblas, parser_saxpy);
    Py_INCREF(cblas);
    return cblas;
}

/* For the tests: C (row-major, M x N) = op(A) op(B) through parser_sgemm, on float32 buffers. */
static PyObject *sgemm(PyObject *self, PyObject *args)
{
    int transA, transB, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    Py_buffer a, b, c;
    if (!PyArg_ParseTuple(args, "ppiiify*iy*ifw*i", &transA, &transB, &M, &N, &K, &alpha, &a, &lda, &b, &ldb,
                          &beta, &c, &ldc))
        return NULL;
    if (c.len < (Py_ssize_t)M * ldc * (Py_ssize_t)sizeof(float) || a.len < (Py_ssize_t)(transA ? K : M) * lda * 4
        || b.len < (Py_ssize_t)(transB ? N : K) * ldb * 4) {
        PyBuffer_Release(&a);
        PyBuffer_Release(&b);
        PyBuffer_Release(&c);
        PyErr_SetString(PyExc_ValueError, "a buffer is smaller than its shape and leading dimension say");
        return NULL;
    }
    parser_sgemm(transA, transB, M, N, K, alpha, a.buf, lda, b.buf, ldb, beta, c.buf, ldc);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&c);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"install", install, METH_O,
     "install(cblas): put this module's sgemm and saxpy into a thinc CBlas (returned)."},
    {"sgemm", sgemm, METH_VARARGS,
     "sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc): the parser's product, for tests."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tidings._parser_kernels",
                                    "sgemm and saxpy for spaCy's parser loop (see the C source).", -1, methods};

PyMODINIT_FUNC PyInit__parser_kernels(void) { return PyModule_Create(&module); }
