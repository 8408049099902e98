import t from 'tap'
import { createSqlStores } from '../../src/stores/sql'
import { onEachSqlBackend } from '../support/sql'
import { totpStoreContract } from './totp-store.contract'

// Once per SQL backend, each with two connections to one database (two instances).
onEachSqlBackend(t, 'the TOTP store contract', (t, [one, two]) => {
  totpStoreContract(t, async () => ({ stores: createSqlStores(one), rival: createSqlStores(two) }))
})
