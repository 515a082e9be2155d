import { MoneyDecimal } from "../money";
import type { AccountState } from "../ledger/apply";
import { GENESIS_HASH } from "../ledger/journal-hash";

/** An account as the settle transaction holds it: active, these balances, an empty journal. */
export function accountState(id: string, available = "0", held = "0"): AccountState {
  return {
    id,
    status: "active",
    available: new MoneyDecimal(available),
    held: new MoneyDecimal(held),
    overdraftLimit: new MoneyDecimal(0),
    entryCount: 0,
    lastHash: GENESIS_HASH,
  };
}
