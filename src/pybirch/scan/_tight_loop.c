/* The scan engine's tight loop, compiled: one movement, one measurement, nothing else.
 *
 * `run_line` does exactly what `pybirch.scan.tight_loop.python_run_line` does, point for
 * point; that function is its specification and the fallback where this file was not
 * compiled. Per point: move, read, copy the reading to bytes, take the wall-clock time,
 * hand the point to the journal (if any), append it to the buffer, and stop after it when
 * the time reaches `due[0]` (a flush is due, or a pause, abort or failure was requested).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_2_0_API_VERSION
#include <numpy/arrayobject.h>
#include <time.h>

/* numpy's native float64 dtype: a reading of exactly this dtype is copied as it is. */
static PyArray_Descr *float64;

/* The reading as float64 bytes: copied directly when it is a plain C-ordered float64
 * array of the first reading's shape, otherwise by `to_bytes`, which validates it. */
static PyObject *reading_bytes(PyObject *result, int nd, const npy_intp *dims, PyObject *to_bytes)
{
    if (PyArray_CheckExact(result)) {
        PyArrayObject *array = (PyArrayObject *)result;
        if (PyArray_DESCR(array) == float64 && PyArray_NDIM(array) == nd
            && PyArray_IS_C_CONTIGUOUS(array)) {
            const npy_intp *have = PyArray_DIMS(array);
            int same = 1;
            for (int k = 0; k < nd; k++) {
                same &= have[k] == dims[k];
            }
            if (same) {
                return PyBytes_FromStringAndSize(PyArray_DATA(array), PyArray_NBYTES(array));
            }
        }
    }
    return PyObject_CallOneArg(to_bytes, result);
}

/* Seconds since the epoch, as time.time() gives them. */
static PyObject *wall_clock(PyObject *now, double *seconds)
{
#if defined(CLOCK_REALTIME) && !defined(_WIN32)
    (void)now;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
        *seconds = (double)((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec) / 1e9;
        return PyFloat_FromDouble(*seconds);
    }
#endif
    PyObject *stamp = PyObject_CallNoArgs(now);
    if (stamp != NULL) {
        *seconds = PyFloat_AsDouble(stamp);
        if (*seconds == -1.0 && PyErr_Occurred()) {
            Py_CLEAR(stamp);
        }
    }
    return stamp;
}

/* What every point of one call needs. */
struct line {
    PyObject *move, *perform, *to_bytes, *now, *record, *chunks, *timestamps;
    int nd;
    npy_intp dims[NPY_MAXDIMS];
};

/* One point; 0 on success, -1 with an exception set. */
static int take_point(const struct line *line, PyObject *position, double *seconds)
{
    PyObject *moved = PyObject_CallOneArg(line->move, position);
    if (moved == NULL) {
        return -1;
    }
    Py_DECREF(moved);
    PyObject *result = PyObject_CallNoArgs(line->perform);
    if (result == NULL) {
        return -1;
    }
    PyObject *data = reading_bytes(result, line->nd, line->dims, line->to_bytes);
    Py_DECREF(result);
    if (data == NULL) {
        return -1;
    }
    PyObject *stamp = wall_clock(line->now, seconds);
    if (stamp == NULL) {
        Py_DECREF(data);
        return -1;
    }
    int failed = 0;
    if (line->record != Py_None) {
        /* Before the next reading: a kill from here on loses nothing. */
        PyObject *recorded =
            PyObject_CallFunctionObjArgs(line->record, data, stamp, position, NULL);
        failed = recorded == NULL;
        Py_XDECREF(recorded);
    }
    failed = failed || PyList_Append(line->chunks, data) < 0
             || PyList_Append(line->timestamps, stamp) < 0;
    Py_DECREF(data);
    Py_DECREF(stamp);
    return failed ? -1 : 0;
}

/* The call's arguments as a line; 0 on success, -1 with an exception set. */
static int parse_line(PyObject *const *args, struct line *line)
{
    PyObject *shape = args[7];
    if (!PyList_CheckExact(args[0]) || !PyTuple_CheckExact(shape)
        || PyTuple_GET_SIZE(shape) > NPY_MAXDIMS || !PyList_CheckExact(args[8])
        || !PyList_CheckExact(args[9]) || !PyList_CheckExact(args[10])
        || PyList_GET_SIZE(args[10]) != 1) {
        PyErr_SetString(PyExc_TypeError,
                        "run_line() wants lists of positions, chunks and timestamps, a "
                        "one-item due list and a shape tuple");
        return -1;
    }
    line->move = args[2];
    line->perform = args[3];
    line->to_bytes = args[4];
    line->now = args[5];
    line->record = args[6];
    line->chunks = args[8];
    line->timestamps = args[9];
    line->nd = (int)PyTuple_GET_SIZE(shape);
    for (int k = 0; k < line->nd; k++) {
        line->dims[k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, k));
        if (line->dims[k] == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

/* run_line(positions, start, move, perform, to_bytes, now, record, shape, chunks,
 *          timestamps, due) -> index after the last point taken */
static PyObject *run_line(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 11) {
        PyErr_Format(PyExc_TypeError, "run_line() takes 11 arguments (%zd given)", nargs);
        return NULL;
    }
    struct line line;
    if (parse_line(args, &line) < 0) {
        return NULL;
    }
    PyObject *positions = args[0], *due = args[10];
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    for (Py_ssize_t i = start; i < PyList_GET_SIZE(positions); i++) {
        PyObject *position = PyList_GET_ITEM(positions, i);
        Py_INCREF(position); /* the list is the caller's: hold the float while we use it */
        double seconds = 0.0;
        int failed = take_point(&line, position, &seconds);
        Py_DECREF(position);
        if (failed) {
            return NULL;
        }
        double limit = PyFloat_AsDouble(PyList_GET_ITEM(due, 0));
        if (limit == -1.0 && PyErr_Occurred()) {
            return NULL;
        }
        if (seconds >= limit) {
            return PyLong_FromSsize_t(i + 1);
        }
    }
    return PyLong_FromSsize_t(PyList_GET_SIZE(positions));
}

static PyMethodDef methods[] = {
    {"run_line", (PyCFunction)(void (*)(void))run_line, METH_FASTCALL,
     "Take points from positions[start] on; return the index after the last one taken."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "pybirch.scan._tight_loop",
    "The scan engine's tight loop, compiled (see pybirch.scan.tight_loop).", -1, methods,
};

PyMODINIT_FUNC PyInit__tight_loop(void)
{
    import_array();
    float64 = PyArray_DescrFromType(NPY_DOUBLE);
    if (float64 == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}
