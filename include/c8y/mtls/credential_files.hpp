// c8y-mtls: the files of a device's credentials, replaced without ever being lost or
// half-written: a renewal stages the new files next to the current ones and promotes them only
// once a connection with them succeeded.
#pragma once

#include "c8y/mtls/config.hpp"

#include <filesystem>
#include <string_view>

namespace c8y::mtls {

/// Where a device's credentials live, as `c8y-mtls-pki enroll` writes them.
struct credential_files {
    std::filesystem::path key;         ///< the private key (PEM), mode 0600
    std::filesystem::path certificate; ///< the device certificate (PEM)
    std::filesystem::path chain;       ///< the chain the handshake sends (PEM); empty: not kept apart

    /// DIR/key.pem, DIR/cert.pem and DIR/chain.pem.
    static credential_files in_directory(const std::filesystem::path& dir)
    {
        return {dir / "key.pem", dir / "cert.pem", dir / "chain.pem"};
    }

    /// Where the new version of `file` is staged: the same path with ".new" added.
    static std::filesystem::path staged(const std::filesystem::path& file)
    {
        std::filesystem::path next = file;
        next += ".new";
        return next;
    }
};

/// Writes new credentials next to the current files, each F as F.new (the key first, with mode
/// 0600 from its creation), each flushed to the disk; the current files are not touched. It
/// recovers first (recover_credential_files()); staged files of an earlier attempt are replaced. Throws error(credentials_unwritable) naming the
/// file and why, having removed what it wrote. `chain_pem` is ignored when `files.chain` is empty.
C8Y_MTLS_DECL void stage_credentials(const credential_files& files, std::string_view key_pem,
                                     std::string_view certificate_pem, std::string_view chain_pem);

/// Makes the staged files the current ones: each F.new renamed over F (atomic on POSIX file
/// systems), the key first, then the directory flushed. A crash between two renames leaves the
/// key promoted and a certificate staged, which recover_credential_files() finishes. Throws
/// error(credentials_unwritable) naming the file and why.
C8Y_MTLS_DECL void promote_staged_credentials(const credential_files& files);

/// Removes the staged files (new credentials that did not connect); the current ones stay.
C8Y_MTLS_DECL void discard_staged_credentials(const credential_files& files) noexcept;

/// What recover_credential_files() found.
enum class credential_recovery {
    nothing_staged, ///< no F.new file: the files are as a completed renewal, or none, left them
    discarded,      ///< a staging whose promotion never began (its key still staged): removed
    completed,      ///< a promotion a crash interrupted (the key promoted): finished
};

/// Brings the files back to one consistent set after a crash, before they are loaded: finishes a
/// promotion that began, removes a staging that was never promoted. Throws
/// error(credentials_unwritable) when a rename fails.
C8Y_MTLS_DECL credential_recovery recover_credential_files(const credential_files& files);

} // namespace c8y::mtls

#if defined(C8Y_MTLS_IMPLEMENTATION)
#include "c8y/mtls/impl/credential_files.ipp"
#endif
