import { ApiKey, CreatedApiKey } from './api-key'
import { AuditEvent, AuditVerification } from './audit'
import { Book } from './book'
import { Readiness, Status } from './common'
import { ErrorResponse, NotReadyResponse } from './error'
import { CreationOptions, Passkey, RequestOptions } from './passkey'
import { Review } from './review'
import { Session } from './session'
import { TokenResponse } from './token'
import { RecoveryCodes, TotpSetup } from './totp'
import { Account, AccountExport, User } from './user'

/**
 * Every named schema. src/app.ts registers each with addSchema; routes refer to them by `$ref`
 * (for serialization as for validation), and the OpenAPI document lists them as components.
 */
export const COMPONENTS = [ErrorResponse, NotReadyResponse, Status, Readiness, Book, Review, User, Account, TokenResponse, Session, ApiKey, CreatedApiKey, AccountExport, AuditEvent, AuditVerification, Passkey, CreationOptions, RequestOptions, TotpSetup, RecoveryCodes]
