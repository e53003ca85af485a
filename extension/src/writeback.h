/*
 * writeback.h
 *		Hand the blocks a relation has grown by to the kernel's writeback.
 */
#ifndef AXS_WRITEBACK_H
#define AXS_WRITEBACK_H

#include "utils/relcache.h"

/* Hand the blocks rel has grown by since the last call to the kernel's writeback. */
extern void axs_writeback_growth(Relation rel);

#endif							/* AXS_WRITEBACK_H */
