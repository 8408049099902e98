import t from 'tap'
import { createSqlStores } from '../../src/stores/sql'
import { onEachSqlBackend } from '../support/sql'
import { passkeyStoreContract } from './passkey-store.contract'

// Once per SQL backend, each with two connections to one database (two instances).
onEachSqlBackend(t, 'the passkey store contract', (t, [one, two]) => {
  passkeyStoreContract(t, async () => ({ passkeys: createSqlStores(one).passkeys, rival: createSqlStores(two).passkeys, users: createSqlStores(one).users }))
})
