/*
 * account_rules.h
 *		Credit lines and suspended accounts, cached per backend, put on the
 *		balances the ledger core decides with.
 */
#ifndef AXS_ACCOUNT_RULES_H
#define AXS_ACCOUNT_RULES_H

#include "ledger.h"

/*
 * Set credit and suspended of every balance in map from axs.credit_lines and
 * axs.account_states.  Call after locking axs.balances, so the rules are
 * those committed before the lock.  Needs SPI.
 */
extern void axs_account_rules_apply_to(AxsBalanceMap *map);

#endif							/* AXS_ACCOUNT_RULES_H */
