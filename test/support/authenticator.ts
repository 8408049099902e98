import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { isoCBOR } from '@simplewebauthn/server/helpers'

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url')
const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest()

/** UP (user present), UV (user verified), AT (attested credential data follows). */
const UP = 0x01
const UV = 0x04
const AT = 0x40

export interface Ceremony {
  challenge: string
  origin: string
  rpId: string
}

/**
 * A software authenticator for inject tests: one ES256 credential, attestation "none", whose
 * responses are built byte by byte as a browser and authenticator would, so each part
 * (challenge, origin, RP ID, counter, signature) can be made wrong on purpose.
 */
export class SoftAuthenticator {
  readonly credentialId = randomBytes(16)
  readonly userHandle: Uint8Array
  private readonly key: KeyObject
  private readonly cose: Uint8Array

  constructor (userHandle = new Uint8Array()) {
    this.userHandle = userHandle
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.key = privateKey
    const jwk = publicKey.export({ format: 'jwk' })
    this.cose = isoCBOR.encode(new Map<number, number | Uint8Array>([
      [1, 2], [3, -7], [-1, 1],
      [-2, new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'))],
      [-3, new Uint8Array(Buffer.from(jwk.y ?? '', 'base64url'))]
    ]))
  }

  get id (): string { return b64url(this.credentialId) }

  /** What credential.toJSON() gives after navigator.credentials.create(). */
  register ({ challenge, origin, rpId }: Ceremony, { flags = UP | UV | AT }: { flags?: number } = {}) {
    const idLength = Buffer.alloc(2)
    idLength.writeUInt16BE(this.credentialId.length)
    const authData = Buffer.concat([sha256(rpId), Buffer.from([flags]), Buffer.alloc(4), Buffer.alloc(16), idLength, this.credentialId, this.cose])
    const attestation = new Map<string, string | Uint8Array | Map<string, string>>()
    attestation.set('fmt', 'none')
    attestation.set('attStmt', new Map<string, string>())
    attestation.set('authData', new Uint8Array(authData))
    const attestationObject = isoCBOR.encode(attestation)
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge, origin, crossOrigin: false }))
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key' as const,
      response: { clientDataJSON: b64url(clientData), attestationObject: b64url(attestationObject), transports: ['internal'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform'
    }
  }

  /** What credential.toJSON() gives after navigator.credentials.get(), with this signature counter. */
  assert ({ challenge, origin, rpId }: Ceremony, counter: number, { flags = UP | UV }: { flags?: number } = {}) {
    const count = Buffer.alloc(4)
    count.writeUInt32BE(counter)
    const authData = Buffer.concat([sha256(rpId), Buffer.from([flags]), count])
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin, crossOrigin: false }))
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), this.key)
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key' as const,
      response: { clientDataJSON: b64url(clientData), authenticatorData: b64url(authData), signature: b64url(signature), userHandle: b64url(this.userHandle) },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform'
    }
  }
}
