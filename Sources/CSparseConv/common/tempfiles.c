/* Temporary-file registry for interrupt cleanup; see sparseconv_tempfiles.h. */
#define _POSIX_C_SOURCE 200809L
#include "sparseconv_tempfiles.h"

#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* A slot is FREE, being FILLED by one registering thread, or READY for the
 * handler. The handler reads only READY slots, whose path is complete. */
enum { FREE = 0, FILLED = 1, READY = 2 };

static char slot_paths[SC_TEMPFILE_SLOTS][PATH_MAX];
static atomic_int slot_states[SC_TEMPFILE_SLOTS];
static atomic_int handlers_installed;

int sc_tempfile_register(const char *path) {
    if (path == NULL) return -1;
    size_t length = strlen(path);
    if (length >= PATH_MAX) return -1;
    for (int slot = 0; slot < SC_TEMPFILE_SLOTS; slot++) {
        int expected = FREE;
        if (atomic_compare_exchange_strong(&slot_states[slot], &expected, FILLED)) {
            memcpy(slot_paths[slot], path, length + 1);
            atomic_store(&slot_states[slot], READY);
            return slot;
        }
    }
    return -1;
}

void sc_tempfile_unregister(int slot) {
    if (slot < 0 || slot >= SC_TEMPFILE_SLOTS) return;
    atomic_store(&slot_states[slot], FREE);
}

int sc_tempfile_remove_all(void) {
    int removed = 0;
    for (int slot = 0; slot < SC_TEMPFILE_SLOTS; slot++) {
        int expected = READY;
        /* Claimed before unlinking so a concurrent unregister cannot hand the
         * slot to a new path halfway through. */
        if (atomic_compare_exchange_strong(&slot_states[slot], &expected, FILLED)) {
            if (unlink(slot_paths[slot]) == 0) removed++;
            atomic_store(&slot_states[slot], FREE);
        }
    }
    return removed;
}

static void remove_and_die(int signal_number) {
    sc_tempfile_remove_all();
    /* Re-raised with the default action so the parent sees death by this signal. */
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

void sc_tempfile_install_signal_handlers(void) {
    if (atomic_exchange(&handlers_installed, 1)) return;
    const int signals[] = {SIGINT, SIGTERM, SIGHUP};
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction previous;
        if (sigaction(signals[i], NULL, &previous) == 0 && previous.sa_handler == SIG_IGN) continue;
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = remove_and_die;
        sigemptyset(&action.sa_mask);
        sigaction(signals[i], &action, NULL);
    }
}
