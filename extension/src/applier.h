/*
 * applier.h
 *		The applier background worker: its registration and main loop.
 */
#ifndef AXS_APPLIER_H
#define AXS_APPLIER_H

/* GUCs axs.database, axs.applier_max_delay_ms, axs.applier_enabled */
extern char *axs_database;
extern int	axs_applier_max_delay_ms;
extern bool axs_applier_enabled;

/* Register the applier at server start (shared_preload_libraries). */
extern void axs_applier_register_static(void);

#endif							/* AXS_APPLIER_H */
