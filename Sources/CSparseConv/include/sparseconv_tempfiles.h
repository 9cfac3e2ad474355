/*
 * sparseconv_tempfiles.h — temporary files of atomic writes in progress, removed
 * when the process is interrupted.
 *
 * Kept in C because the removal happens inside a signal handler, where only
 * async-signal-safe calls (unlink, lock-free atomics) are allowed; Swift
 * gives no such guarantee for its runtime, locks or allocation.
 */
#ifndef SPARSECONV_TEMPFILES_H
#define SPARSECONV_TEMPFILES_H

#ifdef __cplusplus
extern "C" {
#endif

/* Slots for paths being written at once; a registration beyond them fails. */
#define SC_TEMPFILE_SLOTS 64

/* Remembers path (copied) until sc_tempfile_unregister; returns its slot, or
 * -1 when every slot is taken or the path is too long (the write then simply
 * goes unprotected). Thread-safe. */
int sc_tempfile_register(const char *path);

/* Forgets a slot returned by sc_tempfile_register (-1 is ignored). */
void sc_tempfile_unregister(int slot);

/* Unlinks every registered path and forgets it; returns how many were removed. */
int sc_tempfile_remove_all(void);

/* Installs handlers for SIGINT, SIGTERM and SIGHUP that unlink the registered
 * paths and then let the signal kill the process as it would have (so the exit
 * status still says which signal). A signal the process inherited as ignored
 * (nohup, background jobs) stays ignored. Idempotent. */
void sc_tempfile_install_signal_handlers(void);

#ifdef __cplusplus
}
#endif

#endif
