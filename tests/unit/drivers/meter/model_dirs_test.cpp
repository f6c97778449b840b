// Site meter models: /etc/estate-edge/models (ESTATE_EDGE_SITE_MODELS_DIR in tests) is read after
// the package's directory; a site file overrides the package's model of the same name, adds new
// ones, and each model says which file it came from. A missing site directory is fine.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "drivers/meter/model_registry.hpp"

namespace fs = std::filesystem;
using estate::drivers::meter::ModelRegistry;

namespace {

void write(const fs::path& p, int reg) {
  std::ofstream(p) << "name: " << p.stem().string() << "\nfunction: holding\npoints:\n"
                   << "  - {name: v, register: " << reg << ", type: u16, quantity: voltage}\n";
}

class ModelDirs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("model-dirs-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "pkg");
    fs::create_directories(root_ / "site");
    ::setenv("ESTATE_EDGE_MODELS_DIR", (root_ / "pkg").c_str(), 1);
    ::setenv("ESTATE_EDGE_SITE_MODELS_DIR", (root_ / "site").c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("ESTATE_EDGE_MODELS_DIR");
    ::unsetenv("ESTATE_EDGE_SITE_MODELS_DIR");
    fs::remove_all(root_);
  }
  fs::path root_;
};

TEST_F(ModelDirs, SiteOverridesPackageByNameAndSaysWhere) {
  write(root_ / "pkg" / "meter-a.yaml", 1);
  write(root_ / "pkg" / "meter-b.yaml", 2);
  write(root_ / "site" / "meter-a.yaml", 100);  // the site's own map of the same model
  write(root_ / "site" / "meter-c.yaml", 3);    // a model the package lacks
  ModelRegistry r;
  EXPECT_TRUE(r.load_default_dirs().empty());
  EXPECT_EQ(r.size(), 3u);
  ASSERT_NE(r.find("meter-a"), nullptr);
  EXPECT_EQ(r.find("meter-a")->points.at(0).address, 100);
  EXPECT_EQ(r.origin("meter-a"), (root_ / "site" / "meter-a.yaml").string() + ":1");
  EXPECT_EQ(r.origin("meter-b"), (root_ / "pkg" / "meter-b.yaml").string() + ":1");
  EXPECT_EQ(r.origin("meter-c"), (root_ / "site" / "meter-c.yaml").string() + ":1");
}

TEST_F(ModelDirs, TwoSiteFilesOfOneNameAreStillADuplicate) {
  write(root_ / "pkg" / "meter-a.yaml", 1);
  write(root_ / "site" / "meter-a.yaml", 100);
  std::ofstream(root_ / "site" / "other.yaml")
      << "name: meter-a\nfunction: holding\npoints:\n"
      << "  - {name: v, register: 7, type: u16, quantity: voltage}\n";
  ModelRegistry r;
  auto errors = r.load_default_dirs();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("duplicate model name"), std::string::npos);
}

TEST_F(ModelDirs, NoSiteDirectoryIsFine) {
  write(root_ / "pkg" / "meter-a.yaml", 1);
  fs::remove_all(root_ / "site");
  ModelRegistry r;
  EXPECT_TRUE(r.load_default_dirs().empty());
  EXPECT_EQ(r.size(), 1u);
  ::unsetenv("ESTATE_EDGE_SITE_MODELS_DIR");
  EXPECT_EQ(estate::drivers::meter::site_models_dir(), "/etc/estate-edge/models");
}

}  // namespace
