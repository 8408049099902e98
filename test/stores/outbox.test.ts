import t from 'tap'
import { createSqlStores } from '../../src/stores/sql'
import { onEachSqlBackend } from '../support/sql'
import { outboxStoreContract } from './outbox-store.contract'

// Once per SQL backend, each with two connections to one database (two instances).
onEachSqlBackend(t, 'the outbox contract', (t, [one, two]) => {
  outboxStoreContract(t, async () => ({ outbox: createSqlStores(one).outbox, rival: createSqlStores(two).outbox }))
})
