# c8y-mtls: the vcpkg port. Header-only: it installs the headers, the CMake package (configured from
# the same templates as meson.build's) and the licence; nothing is compiled.
# Before publishing, set REPO to the project's GitHub repository and SHA512 to the hash of the
# release tarball of the tag v${VERSION} (vcpkg prints it when the value is wrong).
vcpkg_from_github(
    OUT_SOURCE_PATH SOURCE_PATH
    REPO c8y-mtls/c8y-mtls
    REF "v${VERSION}"
    SHA512 0
    HEAD_REF main
)

set(VCPKG_BUILD_TYPE release)

file(INSTALL "${SOURCE_PATH}/include/c8y" DESTINATION "${CURRENT_PACKAGES_DIR}/include")

foreach(cmake_file IN ITEMS c8y-mtlsConfig.cmake c8y-mtlsConfigVersion.cmake)
    configure_file("${SOURCE_PATH}/cmake/${cmake_file}.in" "${CURRENT_PACKAGES_DIR}/share/${PORT}/${cmake_file}" @ONLY)
endforeach()

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
