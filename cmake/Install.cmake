# Install layout (FHS, as the .deb lays it out) and the Debian package (scripts/package).
include(GNUInstallDirs)

install(TARGETS estate-edge RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES systemd/estate-edge.service DESTINATION /lib/systemd/system)
install(FILES systemd/estate-edge.sysusers.conf DESTINATION /lib/sysusers.d RENAME estate-edge.conf)
install(FILES systemd/estate-edge.tmpfiles.conf DESTINATION /lib/tmpfiles.d RENAME estate-edge.conf)
install(FILES systemd/99-estate-edge-rs485.rules
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# Only the example is shipped (Debian practice): the technician writes /etc/estate-edge/site.yaml,
# and the unit does not start until it exists and passes check-config.
install(FILES config/site.example.yaml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
if(EXISTS ${PROJECT_SOURCE_DIR}/config/models)
  install(DIRECTORY config/models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/estate-edge/models
          FILES_MATCHING PATTERN "*.yaml")
endif()
if(EXISTS ${PROJECT_SOURCE_DIR}/daemon/http/assets)
  install(DIRECTORY daemon/http/assets/ DESTINATION ${CMAKE_INSTALL_DATADIR}/estate-edge/assets)
endif()
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Debian policy files: changelog and manual page gzipped reproducibly, the copyright file.
set(debian_gen ${PROJECT_BINARY_DIR}/debian)
file(MAKE_DIRECTORY ${debian_gen})
foreach(f changelog estate-edge.1)
  execute_process(COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/cmake/debian/${f}
                  OUTPUT_FILE ${debian_gen}/${f}.gz)
endforeach()
install(FILES ${debian_gen}/changelog.gz cmake/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${debian_gen}/estate-edge.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME estate-edge)
set(CPACK_PACKAGE_VENDOR "estate-edge")
set(CPACK_PACKAGE_CONTACT "estate-edge maintainers <maintainers@estate-edge.dev>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "on-site gateway for property management: meters, gates, kiosks, billing")
set(CPACK_PACKAGE_DESCRIPTION "estate-edge reads water, electricity and heat meters
(Modbus, M-Bus, DL/T 645, CJ/T 188), drives parking gates, card readers,
kiosks, POS terminals and receipt printers, bills on site in integer fen,
buffers everything in SQLite and delivers it to the platform over MQTT.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The dashboard's charts: Debian's Chart.js, served by the daemon from /usr/share/javascript
# (merged with the shared-library dependencies found by dpkg-shlibdeps).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libjs-chart.js")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/estate-edge")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "mosquitto-clients")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/cmake/debian/postinst
    ${PROJECT_SOURCE_DIR}/cmake/debian/prerm
    ${PROJECT_SOURCE_DIR}/cmake/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
